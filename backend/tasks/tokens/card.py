"""The model card's usage section for a token-classification run (backend.serving.export writes the rest)."""
from __future__ import annotations

from backend.tasks.cards import how_to_load
from backend.tasks.qa.features import stride_for

EXAMPLE = "Ada Lovelace visited Paris with the Royal Society ."


def length_note(spec) -> str:
    return (f"- Sentences longer than {spec.max_length} tokens are read in windows of whole words that share up to "
            f"{stride_for(spec.max_length, spec.doc_stride)} word pieces, so no word is cut.")


def usage(folder: str, spec) -> str:
    """A token-classification pipeline that groups word pieces into entities by their first piece, as training
    learnt them."""
    return how_to_load(folder, [
        "from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline", "",
        f'model = AutoModelForTokenClassification.from_pretrained("{folder}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
        'tag = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first")',
        f'print(tag("{EXAMPLE}"))  # [{{"entity_group", "score", "word", "start", "end"}}, ...]',
    ], ("The model tags each word on its first word piece (IOB2 tags, in `config.id2label`); "
        '`aggregation_strategy="first"` reads a word\'s tag there and joins B- and I- words into entities. '
        f"This reads the first {spec.max_length} tokens of a text; MiniLM Studio reads longer ones in windows.",))
