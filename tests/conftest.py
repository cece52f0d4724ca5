"""Test settings: one thread (stable on 2-core CI and under load), fixed seed."""

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
