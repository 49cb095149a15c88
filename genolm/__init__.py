"""GenoLM: DNA language models from genomes to gene-function and disease-risk predictions."""

from genolm.errors import GenolmError

__version__ = "0.1.0"
__all__ = ["GenolmError", "__version__"]
