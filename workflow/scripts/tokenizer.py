from genolm.job import run_rule
from genolm.tokenizers import save_tokenizer

run_rule(save_tokenizer, snakemake)
