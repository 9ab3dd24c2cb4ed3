"""cg: U-Net CycleGAN image-to-image translation, reproducibly."""

from cg.errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "__version__"]
