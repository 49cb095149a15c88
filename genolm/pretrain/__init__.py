"""Pretraining: settings, batches, loss, runtime, checkpoints, the loop, evaluation, export and DDP.

`train` runs one pretraining run from its windows to an exported model; `PretrainSettings` holds its
hyperparameters.
"""

from genolm.pretrain.run import train
from genolm.pretrain.settings import PretrainSettings, gpus_per_node

__all__ = ["PretrainSettings", "gpus_per_node", "train"]
