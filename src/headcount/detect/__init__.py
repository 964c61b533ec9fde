"""Coordinated groups in an action log: dense blocks, lockstep bursts, follow rings.

    from headcount.detect import Ensemble, read_log

    log = read_log("actions.csv")              # actor,target,ts[,ip,device,...]
    model = Ensemble(top=5).fit(log)
    for block in model.blocks_:                # most suspicious first
        block.actors, block.targets, block.start, block.end, block.score

Every detector follows scikit-learn's convention: parameters in `__init__`, work
in `fit`, results in `blocks_`. Blocks are scored against the same background
(`scoring.Background`), so a log without coordination reports none.
"""

from headcount.detect.base import DEFAULT_MIN_SCORE, Detector
from headcount.detect.blocks import Block
from headcount.detect.ensemble import Ensemble
from headcount.detect.fraudar import Fraudar
from headcount.detect.lockstep import Lockstep
from headcount.detect.log import ActionLog, LogError, read_log
from headcount.detect.mzoom import DenseTensor
from headcount.detect.scoring import Background

__all__ = ["DEFAULT_MIN_SCORE", "ActionLog", "Background", "Block", "DenseTensor", "Detector",
           "Ensemble", "Fraudar", "Lockstep", "LogError", "read_log"]
