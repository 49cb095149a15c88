"""One torchrun worker (`python -m genolm.pretrain.worker SPEC`): join the group, train, leave.

Its own module, imported by nothing, so `-m` runs it without a second copy already in `sys.modules`.
"""

from __future__ import annotations

import logging
import os
import sys

import torch
import torch.distributed as dist

from genolm.errors import GenolmError
from genolm.logs import setup_logging
from genolm.pretrain.ddp import read_spec
from genolm.pretrain.loop import train_process


def main(spec_path: str) -> None:
    """Run the loop as this worker's rank; a GenolmError is one ERROR line and exit status 1."""
    paths, settings = read_spec(spec_path)
    rank = int(os.environ["RANK"])
    setup_logging(level=logging.INFO if rank == 0 else logging.WARNING)
    dist.init_process_group("nccl" if settings.gpus > 0 and torch.cuda.is_available() else "gloo")
    try:
        train_process(paths, settings)
    except GenolmError as err:
        logging.getLogger("genolm").error("%s", err)
        sys.exit(1)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
