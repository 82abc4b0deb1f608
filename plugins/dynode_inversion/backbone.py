"""The IR-SE residual backbone of pSp / e4e encoders, with their state-dict names.

An ``input_layer`` (3x3 conv, batch norm, PReLU) then ``body``: four stages of
``bottleneck_IR_SE`` units (IR-SE-50 has 3, 4, 14 and 3 units of 64, 128, 256
and 512 channels); the first unit of every stage halves the resolution. Each
unit adds a shortcut (identity subsampling, or a strided 1x1 conv with batch
norm when the width changes) to its residual branch: batch norm, 3x3 conv,
PReLU, strided 3x3 conv, batch norm and a squeeze-and-excitation gate.
"""

from __future__ import annotations

from torch import nn

#: Units per stage of the ResNet-style depths pSp / e4e name by number.
DEPTHS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
BASE_WIDTHS = (64, 128, 256, 512)


class SEModule(nn.Module):
    """Squeeze and excitation: scale channels by a gate from their global average."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * gate


class BottleneckIRSE(nn.Module):
    """One ``bottleneck_IR_SE`` unit (``se=False`` gives the plain ``bottleneck_IR``)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, *, se: bool = True):
        super().__init__()
        if in_ch == out_ch:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        layers = [nn.BatchNorm2d(in_ch), nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False),
                  nn.PReLU(out_ch), nn.Conv2d(out_ch, out_ch, 3, stride, 1, bias=False),
                  nn.BatchNorm2d(out_ch)]
        if se:
            layers.append(SEModule(out_ch))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.shortcut_layer(x) + self.res_layer(x)


def stage_widths(width: float) -> tuple[int, ...]:
    """Channels of the four stages for a width multiplier (1.0 is 64, 128, 256, 512)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return tuple(max(1, int(round(c * width))) for c in BASE_WIDTHS)


def input_layer(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(out_ch), nn.PReLU(out_ch))


def body(units: tuple[int, ...], widths: tuple[int, ...], *, se: bool = True) -> nn.Sequential:
    """The four stages as one flat ``Sequential`` (pSp's ``body``)."""
    if len(units) != 4 or min(units) < 1:
        raise ValueError(f"units must give four positive block counts, got {units}")
    modules, prev = [], widths[0]
    for count, width in zip(units, widths):
        modules.append(BottleneckIRSE(prev, width, 2, se=se))
        modules += [BottleneckIRSE(width, width, 1, se=se) for _ in range(count - 1)]
        prev = width
    return nn.Sequential(*modules)
