"""Methods with a momentum teacher (BYOL, DINO): the student trains, the teacher follows it as an
exponential moving average and gets no gradient (as solo-learn's momentum methods do: a method
declares its (student, teacher) pairs, this base class updates them).

    teacher <- m teacher + (1 - m) student, after every optimizer step, with
    m = 1 - (1 - m_base) (cos(pi k / K) + 1) / 2          (BYOL, Grill et al. 2020, sec. 3.2)

rising from ``base_momentum`` at step 0 towards ``final_momentum``, reached at step K (the
EMA after step k of 0 .. K-1 uses m(k), as BYOL's).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from pretrain.core.tasks import SSLTask, TaskConfig, TrainingProgress
from pretrain.core.typed_yaml import ConfigError


@dataclass
class MomentumConfig(TaskConfig):
    base_momentum: float = 0.99  # m at the first step
    final_momentum: float = 1.0  # m at the last step (cosine in between)

    def __post_init__(self):
        if not 0 <= self.base_momentum <= self.final_momentum <= 1:
            raise ConfigError(
                f"{self.name}: expected 0 <= base_momentum <= final_momentum <= 1, "
                f"got {self.base_momentum} and {self.final_momentum}"
            )


def cosine_momentum(progress: TrainingProgress, base: float, final: float) -> float:
    """BYOL's schedule: ``base`` at step 0, ``final`` at the last step, cosine in between."""
    return final - (final - base) * (math.cos(math.pi * progress.fraction) + 1) / 2


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher <- momentum teacher + (1 - momentum) student, parameter by parameter (the
    teacher's batch-norm statistics are its own, from its own forward passes)."""
    teachers, students = list(teacher.parameters()), [p.detach() for p in student.parameters()]
    if len(teachers) != len(students):
        raise ValueError(f"teacher has {len(teachers)} parameters, its student {len(students)}")
    torch._foreach_lerp_(teachers, students, 1 - momentum)  # t + (1 - m)(s - t), one kernel per group


class MomentumTask(SSLTask):
    """A task whose teachers follow students by EMA. Subclasses create their teachers with
    ``self.teacher_of(name, student)`` and list the pairs in ``teacher_pairs``."""

    cfg: MomentumConfig

    def teacher_of(self, name: str, student: nn.Module) -> nn.Module:
        """A teacher starting as a copy of ``student`` (saved and exported, never optimised)."""
        return self.add_teacher(name, copy.deepcopy(student))

    def teacher_pairs(self, encoder: nn.Module) -> list[tuple[nn.Module, nn.Module]]:  # pragma: no cover
        """(student, teacher) pairs; the shared encoder comes in as ``encoder``."""
        raise NotImplementedError

    def momentum(self, progress: TrainingProgress) -> float:
        """m(k) of the step k being trained (``progress.step``): the EMA applied after it."""
        return cosine_momentum(progress, self.cfg.base_momentum, self.cfg.final_momentum)

    def after_step(self, encoder: nn.Module, progress: TrainingProgress) -> None:
        m = self.momentum(TrainingProgress(progress.step - 1, progress.total))  # the step just taken
        for student, teacher in self.teacher_pairs(encoder):
            ema_update(teacher, student, m)
