"""The model card's "How to load it" section (backend.serving.export writes the rest of the card): the lines every
kind shares around its own code, and the transformers pipeline snippet of the kinds that read one text or a pair."""
from __future__ import annotations

EXAMPLE_INPUT = {False: '"A sentence to label."', True: '{"text": "First sentence.", "text_pair": "Second sentence."}'}
RERUN = ("`spec.json` re-runs the training with MiniLM Studio (`python -m backend train --config spec.json "
         "--output-dir DIR`); it names the CSV by its path on the machine that trained the model.")


def how_to_load(folder: str, code: list[str], notes: tuple[str, ...] = ()) -> str:
    """The section: unzip, the kind's Python `code`, its `notes` (paragraphs), then how to train it again."""
    paragraphs = [line for note in notes for line in (note, "")]
    return "\n".join(["## How to load it", "", f"Unzip, then point `transformers` at the `{folder}` folder:", "",
                      "```python", *code, "```", "", *paragraphs, RERUN, ""])


def pipeline_usage(folder: str, pairs: bool, max_length: int, options: str) -> str:
    """A text-classification pipeline on one example input; `options` are the kind's pipeline arguments."""
    example = f"{EXAMPLE_INPUT[pairs]}, truncation=True, max_length={max_length}{options}"
    return how_to_load(folder, [
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline", "",
        f'model = AutoModelForSequenceClassification.from_pretrained("{folder}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
        'classify = pipeline("text-classification", model=model, tokenizer=tokenizer)',
        f"print(classify({example}))"])
