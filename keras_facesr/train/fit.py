"""``keras-facesr fit``: build everything from a Config, train with resumable checkpoints.

A run folder holds::

    config.toml        the resolved configuration
    data.json          the faces it trained on (sources, counts, a fingerprint), from which step
    checkpoints/       crash-safe checkpoints (see keras_facesr.train.checkpoint)
    logs/              TensorBoard events;  history[_pretrain].csv  per-epoch metrics
    samples/           bicubic | SR | HR grids on validation faces
    generator.keras    the final generator (safe-mode loadable)
    summary.json       stop reason, steps, s/step, final validation metrics
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_facesr.config import Config, ConfigError
from keras_facesr.data.augment import Augmentation
from keras_facesr.data.degrade import Degradation
from keras_facesr.data.pipeline import DataSplit, find_splits, heldout_dataset, pair_dataset, precheck
from keras_facesr.data.sources import DataSource
from keras_facesr.images import write_bytes_atomic
from keras_facesr.models.archs import build_discriminator, build_generator, save_generator
from keras_facesr.models.gan import FaceSRGAN, LossWeights
from keras_facesr.models.info import ModelInfo, write_model_info
from keras_facesr.models.losses import VGGFeatures
from keras_facesr.recognition.encoders import (
    EncoderEnsemble,
    IdentityEncoder,
    available_encoders,
    get_encoder,
)
from keras_facesr.registry import ADVERSARIAL_LOSSES, DISCRIMINATORS
from keras_facesr.train import callbacks as cb
from keras_facesr.train.checkpoint import latest_checkpoint, load_checkpoint
from keras_facesr.train.run import RunError, data_fingerprint, is_chief, record_data


def select_strategy(name: str) -> tf.distribute.Strategy:
    """``auto``: MirroredStrategy over several GPUs, else the default (one device).
    ``mirrored``: over all GPUs, or all logical CPU devices when there is no GPU.
    ``multiworker``: MultiWorkerMirroredStrategy (set TF_CONFIG on every machine)."""
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def loss_weights(cfg: Config) -> LossWeights:
    """The generator's loss weights as configured (before ``resolve_losses`` turns terms off)."""
    loss = cfg.loss
    return LossWeights(loss.identity, loss.pixel, loss.adversarial, loss.content, loss.identity_guard)


def resolve_losses(cfg: Config) -> tuple[IdentityEncoder | None, Callable | None, LossWeights, list]:
    """The identity encoder, content network and effective loss weights, with notes."""
    notes = []
    w = loss_weights(cfg)
    needs_encoder = (w.identity > 0 or w.identity_guard > 0
                     or (w.content > 0 and cfg.loss.content_network == "encoder"))
    encoder = None
    if needs_encoder and cfg.loss.encoder == "none":
        notes.append("identity encoder: none (loss.encoder = \"none\"): identity and "
                     "encoder-content terms are off")
        w.identity = w.identity_guard = 0.0
        if cfg.loss.content_network == "encoder":
            w.content = 0.0
    elif needs_encoder:
        if cfg.loss.encoder == "auto":
            names = available_encoders()
            if names:
                encoder = get_encoder(names[0])
                notes.append(f"identity encoder: {names[0]} (auto: the first of the fetched "
                             f"{', '.join(names)}; pin it with loss.encoder)")
            else:
                notes.append(
                    "no pretrained identity encoder is installed: identity and encoder-content "
                    "terms are OFF (set loss.encoder = FILE.keras or a registered name)"
                )
                w.identity = w.identity_guard = 0.0
                if cfg.loss.content_network == "encoder":
                    w.content = 0.0
        else:
            encoder = get_encoder(cfg.loss.encoder)
            notes.append(f"identity encoder: {encoder.name}")
    content = None
    if w.content > 0:
        if cfg.loss.content_network == "encoder":
            content = encoder_features(encoder, cfg.loss.content_layers)
            if cfg.loss.content_layers:
                notes.append(f"content features: {encoder.name}'s {', '.join(cfg.loss.content_layers)}")
        elif cfg.loss.content_network.lower() == "vgg19":
            raise ConfigError(
                "loss.content_network = 'vgg19': keras.applications downloads VGG19's weights, "
                "which is impossible offline; give the path of the local weights file instead"
            )
        else:
            content = VGGFeatures(cfg.loss.content_network)
            notes.append(f"content network: VGG19 from {cfg.loss.content_network}")
    return encoder, content, w, notes


def encoder_features(encoder: IdentityEncoder | EncoderEnsemble, layers: list[str]) -> Callable:
    """The content term's feature maps: ``layers`` of the encoder (``loss.content_layers``),
    else its last feature map; ConfigError naming any layer it lacks."""
    if not layers:
        return encoder.features
    if isinstance(encoder, EncoderEnsemble):
        raise ConfigError(f"loss.content_layers: names layers of one encoder, not of the ensemble "
                          f"{encoder.name}")
    names = {layer.name for layer in encoder.model.layers}
    missing = [n for n in layers if n not in names]
    if missing:
        raise ConfigError(f"loss.content_layers: encoder {encoder.name} has no layer "
                          f"{', '.join(map(repr, missing))}")
    return replace(encoder, content_layers=tuple(layers)).features  # the same network


def build_gan(cfg: Config, encoder=None, content=None, weights: LossWeights | None = None):
    """Generator, discriminator and FaceSRGAN, compiled with Adam optimizers."""
    m, t, loss = cfg.model, cfg.train, cfg.loss
    generator = build_generator(m.generator, m.scale, m.blocks, m.filters)
    adversarial = ADVERSARIAL_LOSSES.get(loss.gan)
    spec = DISCRIMINATORS.get(m.discriminator)
    norm = m.disc_norm
    if norm == "auto":
        norm = "none" if adversarial.critic else spec.default_norm
    disc_filters = m.disc_filters or spec.default_filters or (64 if m.generator == "srresnet" else 32)
    try:
        discriminator = build_discriminator(
            t.hr_size, disc_filters, norm,
            clip_value=loss.clip_value if adversarial.weight_clipping else None, kind=m.discriminator,
        )
    except ValueError as e:  # a size or width the builder cannot take, said by the builder
        raise ConfigError(f"model.discriminator = {m.discriminator!r}: {e}") from None
    gan = FaceSRGAN(generator, discriminator, encoder, content, scale=m.scale)
    betas = adversarial.adam_betas
    gan.compile(
        # train.ema: Keras keeps the average in the optimizer (0.99, its default, when unused)
        g_optimizer=keras.optimizers.Adam(t.g_lr, **betas, use_ema=t.ema > 0,
                                          ema_momentum=t.ema or 0.99),
        d_optimizer=keras.optimizers.Adam(t.d_lr, **betas),
        gan_type=loss.gan,
        loss_weights=weights or loss_weights(cfg),
        pixel_type=loss.pixel_type,
        d_steps=t.d_steps,
        gp_weight=loss.gp_weight,
        guard_margin=loss.identity_guard_margin,
        jit_compile=t.jit_compile,
    )
    gan.build_optimizers()
    return gan


def init_generator(generator: keras.Model, path: Path) -> None:
    """Copy the weights of the generator saved in ``path`` (same architecture) into ``generator``."""
    from keras_facesr.models.archs import load_generator

    if not path.is_file():
        raise ConfigError(f"train.init = {str(path)!r}: no such generator file")
    source = load_generator(path)
    shapes = [tuple(w.shape) for w in generator.weights]
    if [tuple(w.shape) for w in source.weights] != shapes:
        raise ConfigError(f"train.init = {str(path)!r}: its architecture differs from model.* "
                          f"({source.count_params():,} vs {generator.count_params():,} parameters)")
    generator.set_weights(source.get_weights())


def fit(
    cfg: Config,
    data: str | Path | list[DataSource],
    output: str | Path,
    resume: bool = False,
    echo: Callable[[str], None] = print,
    verbose: int | str = "auto",
) -> dict:
    """Train; returns the summary written to ``summary.json``."""
    output = Path(output)
    t = cfg.train
    if t.pretrain_steps % t.steps_per_epoch:
        raise ConfigError(
            f"train.pretrain_steps = {t.pretrain_steps}: must be a multiple of "
            f"train.steps_per_epoch = {t.steps_per_epoch}"
        )
    sources = data if isinstance(data, list) else [DataSource(Path(data))]
    splits = find_splits(sources, cfg.data.val_fraction, cfg.data.val_data)
    for source, part in zip(sources, splits, strict=True):
        precheck(part.train, str(source))
    split = DataSplit([f for p in splits for f in p.train], [f for p in splits for f in p.val])
    keras.mixed_precision.set_global_policy(t.precision)
    keras.utils.set_random_seed(t.seed)
    strategy = select_strategy(t.strategy)
    replicas = strategy.num_replicas_in_sync
    if t.batch_size % replicas:
        raise ConfigError(f"train.batch_size = {t.batch_size}: must divide by {replicas} replicas")

    with strategy.scope():
        encoder, content, weights, notes = resolve_losses(cfg)
        gan = build_gan(cfg, encoder, content, weights)
    # Multi-worker: the chief writes the run; the others train in step with it but write into a
    # temporary folder, removed at the end. All read checkpoints from ``output`` (shared storage).
    chief = is_chief() or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    writes = output if chief else Path(tempfile.mkdtemp(prefix="keras-facesr-worker-"))
    state = {"step": 0, "epoch": 0, "seed": t.seed}
    ckpt = latest_checkpoint(output / "checkpoints") if resume else None
    if ckpt is None and t.init:
        init_generator(gan.generator, Path(t.init))
        echo(f"generator initialised from {t.init}")
    if resume and ckpt is None:
        raise RunError(f"{output}: no checkpoint to resume from")
    if ckpt is not None:
        state.update(load_checkpoint(ckpt, gan))
        # The optimizer state holds the old learning rates: the run's config (with --set) wins.
        gan.g_optimizer.learning_rate.assign(t.g_lr)
        gan.d_optimizer.learning_rate.assign(t.d_lr)
        echo(f"resumed from {ckpt} at step {state['step']} (g_lr {t.g_lr:g}, d_lr {t.d_lr:g})")
    record_data(output, int(state["step"]), data_fingerprint(sources, splits), echo)

    degradation = Degradation.from_config(cfg.degrade, cfg.model.scale)
    augmentation = Augmentation.from_config(cfg.degrade)
    g = cfg.model
    echo(
        f"generator {g.generator} x{g.scale}: {gan.generator.count_params():,} parameters; "
        f"discriminator: {gan.discriminator.count_params():,}; devices: {replicas} "
        f"({type(strategy).__name__}); precision {t.precision}"
    )
    echo(
        f"data: {len(split.train)} training / {len(split.val)} validation images from "
        f"{', '.join(map(str, sources))}; degradation: {degradation.describe()}; augmentation: "
        f"{augmentation.describe()}; HR {t.hr_size} -> "
        f"LR {t.hr_size // g.scale}"
    )
    echo(
        "loss: L0 = {identity:g}*L_id + {pixel:g}*L_pixel + {adversarial:g}*L_adv + "
        "{content:g}*L_content".format(**asdict(weights))
        + (f" + {weights.identity_guard:g}*L_guard (margin {cfg.loss.identity_guard_margin:g})"
           if weights.identity_guard > 0 else "")
        + f"; D: {cfg.loss.gan}"
    )
    for n in notes:
        echo(f"note: {n}")

    epoch0 = int(state["step"]) // t.steps_per_epoch
    train_ds = pair_dataset(
        [p.train for p in splits], degradation, t.hr_size,
        t.batch_size, cfg.data.crop, cfg.data.flip, seed=t.seed + 7919 * epoch0,
        shuffle_buffer=cfg.data.shuffle_buffer, weights=[s.weight for s in sources],
        augmentation=augmentation,
    )
    val_ds, val_steps = None, None
    if split.val:
        # the held-out definition `evaluate` uses (data.pipeline.heldout_dataset): one number
        val_ds = heldout_dataset(split.val, degradation, t.hr_size, cfg.data.crop)
        val_ds = val_ds.batch(t.batch_size).cache().prefetch(tf.data.AUTOTUNE)
        val_steps = math.ceil(len(split.val) / t.batch_size)
        if t.val_batches:
            val_steps = min(val_steps, t.val_batches)
            val_ds = val_ds.take(val_steps)
        if replicas > 1:
            val_steps = None  # a short last batch may leave a replica empty: run to exhaustion

    timers = {"pretraining": cb.StepTimer(), "gan": cb.StepTimer()}  # one per phase: they differ
    nan_guard = cb.NaNGuard()
    checkpoint = cb.RunCheckpoint(writes / "checkpoints", state)
    common = [cb.StepBudget(t.steps), nan_guard, checkpoint]
    if t.tensorboard:
        common.append(keras.callbacks.TensorBoard(str(writes / "logs"), update_freq="epoch"))
    if val_ds is not None and t.samples:
        lr, hr, _ = next(iter(val_ds.unbatch().batch(t.samples)))
        common.append(cb.SampleGrid(lr.numpy(), hr.numpy(), writes / "samples", g.scale))
    gan_only = []
    if t.loss_threshold > 0:
        gan_only.append(cb.LossThreshold(t.loss_threshold, t.loss_threshold_metric))
    if t.d_threshold > 0:
        gan_only.append(cb.DiscriminatorThreshold(t.d_threshold))
    if t.early_stopping and val_ds is not None:
        gan_only.append(keras.callbacks.EarlyStopping("val_psnr", mode="max",
                                                      patience=t.early_stopping))

    total_epochs = math.ceil(t.steps / t.steps_per_epoch)
    pre_epochs = min(t.pretrain_steps // t.steps_per_epoch, total_epochs)
    gan.stop_reason = ""
    started = time.perf_counter()
    # One CSV per phase: their metrics differ.
    phases = [
        (True, pre_epochs, [*common, timers["pretraining"],
                            cb.HistoryCSV(writes / "history_pretrain.csv")]),
        (False, total_epochs, [*common, timers["gan"], *gan_only, cb.HistoryCSV(writes / "history.csv")]),
    ]
    stopped = False
    for pretraining, end_epoch, callbacks in phases:
        epoch = int(state["step"]) // t.steps_per_epoch
        if epoch >= end_epoch or stopped:
            continue
        if pretraining:
            echo(f"phase 1: pixel-loss pre-training to step {t.pretrain_steps}")
        elif pre_epochs:
            echo("phase 2: GAN training")
        gan.pretraining = pretraining
        gan.make_train_function(force=True)
        try:
            gan.fit(
                train_ds, epochs=end_epoch, initial_epoch=epoch, steps_per_epoch=t.steps_per_epoch,
                validation_data=val_ds, validation_steps=val_steps, callbacks=callbacks,
                verbose=verbose, shuffle=False,
            )
        except tf.errors.UnavailableError as e:  # a peer of a multi-worker run died
            first = str(e).strip().splitlines()[0][:200]
            raise RunError(
                f"a worker of the multi-worker run is gone ({first}); restart every worker with "
                f"--resume: training goes on from the last checkpoint in {output / 'checkpoints'}"
            ) from None
        state["step"] = int(gan.g_optimizer.iterations.numpy())
        stopped = bool(gan.stop_training)
    if getattr(gan, "nan_detected", None):
        raise RunError(
            f"training diverged ({gan.nan_detected}); the last good checkpoint is in "
            f"{output / 'checkpoints'} (lower the learning rates and --resume)"
        )

    if t.ema > 0:  # the run's generator is the average; checkpoints keep the raw weights
        gan.g_optimizer.finalize_variable_values(gan.generator.trainable_variables)
        echo(f"generator: the moving average of its weights (train.ema = {t.ema:g})")
    weights_sha256 = hashlib.sha256(b"".join(
        np.ascontiguousarray(w).tobytes() for w in gan.generator.get_weights())).hexdigest()
    echo(f"generator weights sha256 {weights_sha256[:16]}"
         + ("" if chief else f" (worker; the chief writes {output})"))
    save_generator(gan.generator, writes / "generator.keras")
    write_model_info(writes / "generator.keras", ModelInfo(
        name=output.resolve().name, scale=cfg.model.scale, lr_size=t.hr_size // cfg.model.scale,
        identity_encoder=encoder.name if encoder is not None and weights.identity > 0 else None,
        degradation=degradation.to_config()))
    summary = {
        "step": int(gan.g_optimizer.iterations.numpy()),
        "stop_reason": gan.stop_reason or ("early stopping on val_psnr" if gan.stop_training
                                           else f"epoch budget ({total_epochs} epochs)"),
        "seconds_per_step": {phase: round(timer.seconds_per_step, 4)
                             for phase, timer in timers.items() if timer.times},
        "wall_seconds": time.perf_counter() - started,
        "generator_parameters": gan.generator.count_params(),
        "loss_weights": asdict(weights),
        "generator": str(output / "generator.keras"),
        "weights_sha256": weights_sha256,
    }
    if val_ds is not None:
        summary["validation"] = {k: float(v) for k, v in
                                 gan.evaluate(val_ds, steps=val_steps, verbose=0, return_dict=True).items()}
    write_bytes_atomic(writes / "summary.json", json.dumps(summary, indent=2).encode())
    if not chief:
        shutil.rmtree(writes, ignore_errors=True)
    return summary

