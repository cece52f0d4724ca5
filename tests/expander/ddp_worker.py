"""One process of ``test_trainer.py``'s torchrun test: trains 2 steps on PHOTOS into OUT_DIR
and writes this rank's weights (``rank{r}.safetensors``), rank 0 also the loss history."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from texsynth.expander.model import ExpanderConfig
from texsynth.expander.trainer import ExpanderTrainSettings, train_expander_file

if __name__ == "__main__":
    photos, out = Path(sys.argv[1]), Path(sys.argv[2])
    settings = ExpanderTrainSettings(
        size=16,
        steps=2,
        batch=2,
        checkpoint_every=1,
        config=ExpanderConfig(widths=(8, 8, 16), decoder_width=16),
    )
    res = train_expander_file([photos], out / "m.safetensors", settings)
    # (the process group is gone at return: the rank from torchrun's environment)
    rank = int(os.environ["RANK"])
    state = {k: v.contiguous() for k, v in res.model.state_dict().items()}
    save_file(state, str(out / f"rank{rank}.safetensors"))
    if rank == 0:
        (out / "history.json").write_text(json.dumps(res.history))
        (out / "world.json").write_text(json.dumps(res.world_size))
