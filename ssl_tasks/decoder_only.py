"""Decoder-only representation learning (Schuster & Krogh, "A manifold learning perspective
on representation learning: learning decoder and representations without an encoder",
Entropy 2021; shared/sources/paper-decoder-without-encoder.txt).

Each training image k owns a free code z_k (a row of an N x m table) learned jointly with
the decoder by minimising sum_k L(x_k, g(z_k)) (paper eq. 2): the decoder with the main
optimizer (paper: Adam 1e-3, weight decay 1e-5), the codes with their own SGD + momentum
(paper: lr 0.02, momentum 0.9). No encoder is needed for that; then
- code inference: codes of unseen images by gradient descent with the decoder frozen;
- distillation: the shared encoder regresses the learned codes (optionally from corrupted
  inputs, the variant the paper proposes at the end of its section 2.4), so the run also
  yields an encoder, evaluated like every other task's.
Loads (paper eqs. 3-4): decoder alpha_d = N n / (C_d + N m), encoder alpha_e = N m / C_e.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from pretrain.core.arrays import in_memory, is_tensor_array
from pretrain.core.config import ConfigError
from pretrain.core.encoders import count_parameters, encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.pca import fit_pca, pca_project
from pretrain.core.samples import ImageSet
from pretrain.core.tasks import Batch, FeatureSource, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.corruptions import CorruptionConfig, corrupt
from ssl_tasks.decoders import build_decoder
from ssl_tasks.losses import decoded_image, per_image_loss, per_sample_loss, reconstruction_loss


@dataclass
class DecoderOnlyConfig(TaskConfig):
    decoder: str = "mirror"  # mirror | linear
    loss: str = "bce"  # bce | mse | mse_linear
    code_init: str = "pca"  # pca (projections on the top-m principal components, unit variance) | zeros | normal
    code_lr: float = 0.02  # SGD on the per-sample codes (paper sec. 3.1)
    code_momentum: float = 0.9
    distill_weight: float = 1.0  # weight of the encoder's regression onto the learned codes
    distill_corruption: CorruptionConfig = field(default_factory=lambda: CorruptionConfig(kind="none"))
    infer_init: str = "encoder"  # encoder (start from the distilled encoder's code) | zeros
    infer_steps: int = 30  # code inference for unseen images: SGD steps with the decoder frozen
    infer_lr: float = 0.02
    infer_momentum: float = 0.9
    infer_batch_size: int = 2048


def decoder_load(num_samples: int, input_dim: int, code_dim: int, decoder_params: int) -> float:
    """alpha_d = N n / (C_d + N m): constraints per free parameter of decoder + codes (eq. 3)."""
    return num_samples * input_dim / (decoder_params + num_samples * code_dim)


def encoder_load(num_samples: int, code_dim: int, encoder_params: int) -> float:
    """alpha_e = N m / C_e: constraints per encoder parameter when it regresses fixed codes (eq. 4)."""
    return num_samples * code_dim / encoder_params


def load_report(alpha_d: float, alpha_e: float) -> list[str]:
    lines = [f"decoder-only loads: decoder alpha_d = {alpha_d:.2f}, encoder alpha_e = {alpha_e:.3f}"]
    for name, alpha in (("decoder", alpha_d), ("encoder", alpha_e)):
        if alpha < 1:
            lines.append(
                f"WARNING: {name} load {alpha:.3f} < 1: fewer constraints than parameters, so the {name} is "
                "under-determined by this much data (it can fit noise); use more samples or a smaller model."
            )
    return lines


def infer_codes(
    decoder: nn.Module,
    images: torch.Tensor,
    code_dim: int,
    loss: str = "bce",
    steps: int = 100,
    lr: float = 0.02,
    momentum: float = 0.9,
    batch_size: int = 2048,
    init: torch.Tensor | None = None,
    progress=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes of ``images`` (N, C, H, W) in [0, 1] by gradient descent on each image's own loss,
    the decoder frozen, from ``init`` (N, m) or from zero as training does.
    -> (codes (N, m), final per-pixel loss of each image (N,))."""
    was_training, grads = decoder.training, [p.requires_grad for p in decoder.parameters()]
    decoder.eval().requires_grad_(False)
    codes, losses = [], []
    starts = range(0, len(images), batch_size)
    for start in progress(starts) if progress else starts:
        target = images[start : start + batch_size]
        start_z = torch.zeros(len(target), code_dim) if init is None else init[start : start + batch_size]
        z = start_z.detach().clone().to(target.device).requires_grad_(True)
        opt = torch.optim.SGD([z], lr=lr, momentum=momentum)
        with torch.enable_grad():  # an optimisation, whatever the caller's grad mode (plots run under no_grad)
            for _ in range(steps):
                opt.zero_grad()
                per_sample_loss(decoder(z), target, loss).sum().backward()  # sum: each code sees its own loss
                opt.step()
        with torch.no_grad():
            losses.append(per_image_loss(decoder(z), target, loss))
        codes.append(z.detach())
    for p, g in zip(decoder.parameters(), grads):
        p.requires_grad_(g)
    decoder.train(was_training)
    return torch.cat(codes), torch.cat(losses)


@register_task("decoder_only")
class DecoderOnly(SSLTask):
    Config = DecoderOnlyConfig

    def __init__(self, cfg: DecoderOnlyConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        if cfg.decoder == "tied":
            raise ConfigError("decoder_only learns its decoder without an encoder: choose mirror or linear")
        self.image_shape = ctx.image_shape
        self.decoder = build_decoder(cfg.decoder, encoder, ctx.image_shape)
        self.codes = nn.Parameter(torch.zeros(ctx.num_samples, encoder.code_dim))  # z_k, row k = sample k
        n = ctx.image_shape[0] * ctx.image_shape[1] * ctx.image_shape[2]
        self.alpha_d = decoder_load(ctx.num_samples, n, encoder.code_dim, count_parameters(self.decoder))
        self.alpha_e = encoder_load(ctx.num_samples, encoder.code_dim, count_parameters(encoder))

    def prepare(self, images: torch.Tensor) -> None:
        """Initialise the code table from the training images (N, C, H, W) uint8.

        Codes at zero leave the scale free: the decoder grows a large gain to read tiny codes,
        and the next round of code updates then swings its output (the scale symmetry the
        paper notes). Starting from PCA projections scaled to unit variance, as GLO does
        (Bojanowski et al. 2018), fixes the scale and starts from the best linear code."""
        kind, m = self.cfg.code_init, self.codes.shape[1]
        images = images if is_tensor_array(images) else in_memory(images)  # a memory map or files: read them
        with torch.no_grad():
            if kind == "zeros":
                self.codes.zero_()
            elif kind == "normal":
                self.codes.normal_()
            elif kind == "pca":
                z = pca_project(images, *fit_pca(images, m))
                self.codes.copy_(z / z.std(0).clamp_min(1e-8))
            else:
                raise ConfigError(f"code_init: {kind!r} is unknown (pca | zeros | normal)")

    def optimizer_groups(self) -> list[dict]:
        """The code table trains with its own plain SGD + momentum, not the main optimizer."""
        return [
            {
                "params": [self.codes],
                "optimizer": "sgd",
                "lr": self.cfg.code_lr,
                "momentum": self.cfg.code_momentum,
                "weight_decay": 0.0,
            }
        ]

    def forward_codes(self, index: torch.Tensor) -> torch.Tensor:
        """Rows of the code table (B, m). Their gradient is rescaled to that of each sample's
        own summed loss (paper eq. 2), so the code step does not shrink with batch or image size."""
        z = self.codes[index]
        if z.requires_grad:
            scale = float(len(index) * self.image_shape[0] * self.image_shape[1] * self.image_shape[2])
            z.register_hook(lambda grad: grad * scale)
        return z

    def infer(
        self, encoder: nn.Module, images: torch.Tensor, device, progress=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes of unseen uint8 images (N, C, H, W) with this task's inference settings (start
        from the distilled encoder's code or from zero, then SGD with the decoder frozen).
        -> (codes (N, m), per-pixel loss of each image (N,)), on the CPU."""
        cfg = self.cfg
        init = encode_images(encoder, images, device=device) if cfg.infer_init == "encoder" else None
        codes, loss = infer_codes(
            self.to(device).decoder,
            to_unit_float(images.to(device)),
            encoder.code_dim,
            cfg.loss,
            cfg.infer_steps,
            cfg.infer_lr,
            cfg.infer_momentum,
            cfg.infer_batch_size,
            init=init,
            progress=progress,
        )
        return codes.cpu(), loss.cpu()

    @torch.no_grad()
    def reconstruction_error(self, codes: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Per-pixel mean loss of each image (N,) in [0, 1] (N, C, H, W) when decoded from ``codes`` (N, m)."""
        return per_image_loss(self.decoder(codes), images, self.cfg.loss)

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        z = self.forward_codes(batch.index)
        logits = self.decoder(z)
        recon = reconstruction_loss(logits, batch.images, self.cfg.loss)
        distill = recon.new_zeros(())
        if self.cfg.distill_weight:  # 0: the paper's decoder alone; no encoder pass at all
            predicted = encoder(corrupt(batch.images, self.cfg.distill_corruption))
            distill = F.mse_loss(predicted.float(), z.detach().float())
        logs = {
            "recon_loss": recon.detach(),
            "distill_loss": distill.detach(),
            "load_decoder": torch.tensor(self.alpha_d),
            "load_encoder": torch.tensor(self.alpha_e),
        }
        images = (batch.images, decoded_image(logits, self.cfg.loss))
        return TaskOutput(recon + self.cfg.distill_weight * distill, logs, images)

    def describe(self, encoder: nn.Module) -> list[str]:
        return load_report(self.alpha_d, self.alpha_e)

    # ----------------------------------------------------------------- capabilities for evaluation

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, m) -> images (B, C, H, W) in [0, 1]: the decoder's manifold."""
        return decoded_image(self.decoder(codes), self.cfg.loss)

    def decoder_codes(self, encoder: nn.Module, images: torch.Tensor, device) -> torch.Tensor:
        """Codes (N, m) of uint8 images found by inference with the decoder frozen."""
        return self.infer(encoder, images, device)[0]

    def anomaly_scores(self, encoder: nn.Module, images: torch.Tensor, device) -> dict[str, torch.Tensor]:
        """{"code_inference_loss": the per-pixel loss (N,) code inference reaches on each uint8
        image}: the distance of the image to the decoder's manifold."""
        return {"code_inference_loss": self.infer(encoder, images, device)[1]}

    def feature_sources(self, encoder: nn.Module, device) -> list[FeatureSource]:
        """Codes inferred with the decoder frozen, for every split, the training split included:
        the learned table holds codes of another kind (fitted jointly with the decoder over many
        epochs), so a probe trained on the table and scored on inferred codes would measure the
        gap between the two kinds, not the representation."""
        cfg = self.cfg

        def extract(split: str, images: ImageSet) -> torch.Tensor:
            bar = partial(tqdm, desc=f"code inference ({split})", unit="batch", leave=False)
            return self.infer(encoder, images.x, device, progress=bar)[0]

        settings = f"{cfg.infer_init}:{cfg.infer_steps}:{cfg.infer_lr}:{cfg.infer_momentum}:{cfg.loss}"
        description = f"codes inferred in {cfg.infer_steps} steps with the decoder frozen (every split)"
        return [FeatureSource("decoder_only_codes", f"decoder_only:{settings}", extract, description)]
