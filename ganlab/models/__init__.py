"""Generator and discriminator networks."""

from ganlab.models.mlp import build_mlp_pair

__all__ = ["build_mlp_pair"]
