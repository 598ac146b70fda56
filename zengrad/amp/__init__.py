"""Mixed precision, as torch.amp: GradScaler (loss scaling) and autocast.

zengrad computes every op in its inputs' dtype. GradScaler is torch's: on the CPU it really
scales (scale(loss) = loss * S; unscale_ divides the gradients by S and notes any inf/NaN;
step skips the optimizer's step when one was found; update halves S after an overflow and
doubles it after growth_interval clean steps); asked for a device zengrad doesn't have
(the default "cuda"), it warns and disables itself, as torch does without CUDA. autocast
disabled, or for "cuda" (warned and disabled, as torch without CUDA), is a no-op; enabled on
the CPU it raises NotImplementedError: zengrad has no lower-precision kernels to cast to
(NumPy has no bfloat16), and running in float32 silently would not be what was asked.
"""

from zengrad.amp.autocast_mode import autocast, is_autocast_enabled
from zengrad.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "is_autocast_enabled"]
