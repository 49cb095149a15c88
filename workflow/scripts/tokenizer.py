from genolm.logs import run_step
from genolm.tokenizers import save_tokenizer

run_step(
    save_tokenizer,
    snakemake.log[0],
    train_windows=snakemake.input.train,
    val_windows=snakemake.input.val,
    out_dir=snakemake.output[0],
    **snakemake.params,  # kind, k, vocab_size, window: the function's settings by name
)
