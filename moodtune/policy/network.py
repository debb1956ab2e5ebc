"""The candidate-aware actor-critic: one logit per playlist slot from a shared scorer.

Each slot's input is the listener block, the slot's row (10 song features + predicted
valence-arousal point) and how that point relates to the listener's estimated point
(valence from mood, arousal from the last reading: p_high - p_low): their difference and
distance. The same small MLP scores every slot, so the policy sees every candidate and
works for any playlist length; played and padded slots are masked out of the softmax. The
critic pools (masked mean) an embedding of the playable slots with the listener block.

:class:`CandidatePolicy` plugs this into stable-baselines3's ``ActorCriticPolicy`` (the
``mlp_extractor`` yields the masked logits and the critic latent; the action net is the
identity), so A2C trains it unchanged.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from moodtune.policy import observation as ob

MASKED = -1e8


def pair_inputs(block: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """(B, L) listener blocks and (B, N, S) slot rows -> (B, N, L + S + 3) scorer inputs."""
    est = torch.stack([block[:, ob.MOOD], block[:, ob.P_HIGH] - block[:, ob.P_LOW]], dim=1)
    diff = slots[..., -2:] - est[:, None, :]
    dist = torch.sqrt((diff**2).sum(-1, keepdim=True) + 1e-12)
    return torch.cat([block[:, None, :].expand(-1, slots.shape[1], -1), slots, diff, dist], dim=-1)


def pair_inputs_numpy(block: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """:func:`pair_inputs` for one listener in NumPy (the service's fast path)."""
    est = np.array([block[ob.MOOD], block[ob.P_HIGH] - block[ob.P_LOW]])
    diff = slots[:, -2:] - est
    dist = np.sqrt((diff**2).sum(-1, keepdims=True) + 1e-12)
    return np.concatenate([np.broadcast_to(block, (len(slots), len(block))), slots, diff, dist], axis=1)


N_PAIR = ob.N_LISTENER + ob.N_SLOT + 3


class CandidateNet(nn.Module):
    """Actor: masked per-slot logits. Critic: pooled slot embedding + listener block."""

    def __init__(self, max_slots: int, hidden: int = 64):
        super().__init__()
        self.max_slots = max_slots
        self.scorer = nn.Sequential(
            nn.Linear(N_PAIR, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )
        self.embed = nn.Sequential(nn.Linear(N_PAIR, hidden), nn.Tanh())
        self.critic = nn.Sequential(nn.Linear(hidden + ob.N_LISTENER, hidden), nn.Tanh())
        self.latent_dim_pi = max_slots
        self.latent_dim_vf = hidden

    def split(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.max_slots
        block = obs[:, : ob.N_LISTENER]
        slots = obs[:, ob.N_LISTENER : ob.N_LISTENER + n * ob.N_SLOT].reshape(-1, n, ob.N_SLOT)
        return block, slots, obs[:, ob.N_LISTENER + n * ob.N_SLOT :]

    def slot_logits(self, block: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """Unmasked logits of any number of slots: (B, L), (B, N, S) -> (B, N)."""
        return self.scorer(pair_inputs(block, slots)).squeeze(-1)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        block, slots, mask = self.split(obs)
        return torch.where(mask > 0.5, self.slot_logits(block, slots), torch.full_like(mask, MASKED))

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        block, slots, mask = self.split(obs)
        e = self.embed(pair_inputs(block, slots))
        w = mask[..., None]
        pooled = (e * w).sum(1) / w.sum(1).clamp(min=1.0)
        return self.critic(torch.cat([pooled, block], dim=-1))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class CandidatePolicy(ActorCriticPolicy):
    """SB3 actor-critic whose actor is :class:`CandidateNet`'s masked slot logits."""

    def __init__(self, *args, max_slots: int, hidden: int = 64, **kwargs):
        self.max_slots = max_slots
        self.hidden = hidden
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = CandidateNet(self.max_slots, self.hidden)  # type: ignore[assignment]  # SB3's hook

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()  # the extractor's latent already is the logits
        last = cast(nn.Linear, cast(CandidateNet, self.mlp_extractor).scorer[-1])
        nn.init.orthogonal_(last.weight, gain=0.01)  # near-uniform choices at the start
        nn.init.zeros_(last.bias)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]  # SB3 types it as the bare Optimizer
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict:
        return {**super()._get_constructor_parameters(), "max_slots": self.max_slots, "hidden": self.hidden}

    def slot_scores(self, block: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The scorer's logits for one listener block and any number of slot rows."""
        with torch.no_grad():
            b = torch.as_tensor(np.asarray(block, dtype=np.float32)[None], device=self.device)
            s = torch.as_tensor(np.asarray(rows, dtype=np.float32)[None], device=self.device)
            return cast(CandidateNet, self.mlp_extractor).slot_logits(b, s)[0].cpu().numpy().astype(float)
