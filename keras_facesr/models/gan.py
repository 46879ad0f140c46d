"""FaceSRGAN: the SRGAN-style model with an identity term, trainable with plain ``model.fit``.

Generator loss  L0 = identity * L_id + pixel * L_pixel + adversarial * L_adv + content * L_content
                     [+ identity_guard * L_guard: each face's identity gain over bicubic]
Discriminator   a registered adversarial loss (gan | ragan | wgan | wgan-gp | hinge, or a
                plugin's), ``d_steps`` updates per G update.
Batches are (LR, HR) pairs of float32 RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import keras
import tensorflow as tf
from keras import ops

from keras_facesr.models.losses import (
    content_loss,
    discriminator_loss,
    generator_adversarial_loss,
    gradient_penalty,
    pixel_loss,
)
from keras_facesr.recognition.encoders import IdentityEncoder, identity_terms
from keras_facesr.registry import ADVERSARIAL_LOSSES


@dataclass
class LossWeights:
    identity: float = 0.1  # lambda_1
    pixel: float = 1.0
    adversarial: float = 1e-3  # lambda_0
    content: float = 6e-3  # lambda
    identity_guard: float = 0.0  # face-by-face identity gain over bicubic (identity_guard_loss)


def psnr(a, b):
    """Per-image PSNR (dB) of images in [0, 1]."""
    return tf.image.psnr(ops.cast(a, "float32"), ops.cast(b, "float32"), max_val=1.0)


def ssim(a, b):
    """Per-image SSIM of images in [0, 1]."""
    return tf.image.ssim(ops.cast(a, "float32"), ops.cast(b, "float32"), max_val=1.0)


@keras.saving.register_keras_serializable(package="keras_facesr")
class FaceSRGAN(keras.Model):
    """Generator + discriminator (+ frozen identity encoder / content network).

    ``pretraining = True`` makes ``train_step`` a pixel-loss-only generator update
    (SRResNet pre-training); the discriminator is untouched in that phase.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        encoder: IdentityEncoder | None = None,
        content_features: Callable | None = None,
        scale: int = 4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.encoder = encoder
        self.content_features = content_features
        self.scale = scale
        self.pretraining = False
        self.seed_gen = keras.random.SeedGenerator(1234)  # WGAN-GP's interpolation weights
        names = ["loss_g", "loss_pixel", "loss_adv", "loss_id", "loss_id_guard", "loss_content", "loss_d",
                 "loss_gp", "d_real", "d_fake"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.val_trackers = {
            n: keras.metrics.Mean(name=n) for n in ["psnr", "ssim", "psnr_bicubic", "ssim_bicubic"]
        }

    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer,
        d_optimizer: keras.optimizers.Optimizer,
        gan_type: str = "ragan",
        loss_weights: LossWeights | None = None,
        pixel_type: str = "l1",
        d_steps: int = 1,
        gp_weight: float = 10.0,
        guard_margin: float = 0.05,
        **kwargs,
    ):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.gan_type = gan_type
        self.loss_weights = loss_weights or LossWeights()
        self.pixel_type = pixel_type
        self.d_steps = d_steps
        self.gp_weight = gp_weight
        self.guard_margin = guard_margin
        w = self.loss_weights
        for name in ("identity", "identity_guard"):
            if getattr(w, name) > 0 and self.encoder is None:
                raise ValueError(f"loss weight {name} > 0 needs an identity encoder")
        if w.content > 0 and self.content_features is None:
            raise ValueError("loss weight content > 0 needs a content network")

    @property
    def metrics(self):
        return [*self.trackers.values(), *self.val_trackers.values()]

    def call(self, lr, training=False):
        return self.generator(lr, training=training)

    def build_optimizers(self) -> None:
        """Create optimizer state now (needed before restoring it from a checkpoint)."""
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    # ------------------------------------------------------------------ training
    def _replica_scale(self) -> float:
        return 1.0 / tf.distribute.get_strategy().num_replicas_in_sync

    def _scaled(self, optimizer, loss):
        """The loss to differentiate (inside the tape): per-replica share, loss-scaled."""
        return optimizer.scale_loss(loss * self._replica_scale())

    def _discriminator_step(self, lr, hr, sr=None):
        """One D update; ``sr``: the generator's output for ``lr`` if already computed."""
        sr = ops.stop_gradient(self.generator(lr, training=True) if sr is None else sr)
        with tf.GradientTape() as tape:
            real = self.discriminator(hr, training=True)
            fake = self.discriminator(sr, training=True)
            loss_d = discriminator_loss(self.gan_type, real, fake)
            gp = ops.zeros(())
            if ADVERSARIAL_LOSSES.get(self.gan_type).gradient_penalty:
                alpha = keras.random.uniform((ops.shape(hr)[0], 1, 1, 1), seed=self.seed_gen)
                gp = gradient_penalty(self.discriminator, hr, ops.cast(sr, hr.dtype), alpha)
            scaled = self._scaled(self.d_optimizer, loss_d + self.gp_weight * gp)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss_d, gp

    def _generator_losses(self, lr, hr, sr, adversarial: bool):
        w = self.loss_weights
        losses = {"loss_pixel": pixel_loss(self.pixel_type, hr, sr)}
        total = w.pixel * losses["loss_pixel"]
        if w.identity > 0 or w.identity_guard > 0:
            bicubic = None
            if w.identity_guard > 0:
                bicubic = ops.image.resize(lr, ops.shape(hr)[1:3], interpolation="bicubic")
            loss_id, loss_guard = identity_terms(self.encoder, hr, sr, bicubic, self.guard_margin)
            if w.identity > 0:
                losses["loss_id"] = loss_id
                total += w.identity * loss_id
            if loss_guard is not None:
                losses["loss_id_guard"] = loss_guard
                total += w.identity_guard * loss_guard
        if w.content > 0:
            losses["loss_content"] = content_loss(self.content_features, hr, sr)
            total += w.content * losses["loss_content"]
        if adversarial:
            real = self.discriminator(hr, training=True)
            fake = self.discriminator(sr, training=True)
            losses["loss_adv"] = generator_adversarial_loss(self.gan_type, real, fake)
            losses["d_real"] = ops.mean(ops.sigmoid(ops.cast(real, "float32")))
            losses["d_fake"] = ops.mean(ops.sigmoid(ops.cast(fake, "float32")))
            total += w.adversarial * losses["loss_adv"]
        losses["loss_g"] = total
        return total, losses

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.x, TF backend) builds a model before fit by reducing a distributed data batch
        # across replicas; under MultiWorkerMirroredStrategy that reduce fails (a PerReplica value
        # cannot become a tensor). Generator and discriminator are built when they are made and
        # the optimizers on their first update, so there is nothing to build: skip it there.
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        super()._maybe_symbolic_build(iterator, data_batch)

    def _per_replica_logs(self, logs: dict) -> dict:
        # Under MultiWorkerMirroredStrategy Keras reduces each log with a mean over axis 0, which a
        # scalar does not have: give it one (the tracker's value, the same on every replica).
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        lr, hr = data
        logs = {}
        adversarial = not self.pretraining and self.loss_weights.adversarial > 0
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            if adversarial:
                # D first (on this SR, from the generator before its update), then G against the
                # updated D; the G forward pass is shared, D's updates are not on G's tape.
                with tape.stop_recording():
                    for k in range(self.d_steps):
                        loss_d, gp = self._discriminator_step(lr, hr, sr if k == 0 else None)
                logs["loss_d"], logs["loss_gp"] = loss_d, gp
            if self.pretraining:
                total = pixel_loss(self.pixel_type, hr, sr)
                losses = {"loss_pixel": total, "loss_g": total}
            else:
                total, losses = self._generator_losses(lr, hr, sr, adversarial)
            scaled = self._scaled(self.g_optimizer, total)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, variables), variables)
        logs.update(losses)
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return self._per_replica_logs({name: self.trackers[name].result() for name in logs})

    def make_test_function(self, force=False):
        # Validation is never XLA-compiled: its bicubic baseline (ResizeBicubic) has no XLA kernel.
        jit, self.jit_compile = self.jit_compile, False
        try:
            return super().make_test_function(force)
        finally:
            self.jit_compile = jit

    def test_step(self, data):
        """(LR, HR) or (LR, HR, bicubic) batches: ``fit`` gives the held-out bicubic faces
        (OpenCV's, as ``evaluate`` computes them); without them TF's bicubic is used."""
        lr, hr, *given = data
        sr = ops.clip(self.generator(lr, training=False), 0.0, 1.0)
        if given:
            bicubic = given[0]
        else:
            bicubic = ops.clip(ops.image.resize(lr, ops.shape(hr)[1:3], interpolation="bicubic"), 0.0, 1.0)
        v = self.val_trackers
        v["psnr"].update_state(psnr(hr, sr))
        v["ssim"].update_state(ssim(hr, sr))
        v["psnr_bicubic"].update_state(psnr(hr, bicubic))
        v["ssim_bicubic"].update_state(ssim(hr, bicubic))
        return self._per_replica_logs({name: t.result() for name, t in v.items()})

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "scale": self.scale,
            "loss_weights": asdict(getattr(self, "loss_weights", LossWeights())),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("loss_weights", None)
        g = keras.saving.deserialize_keras_object(config.pop("generator"))
        d = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator=g, discriminator=d, **config)
