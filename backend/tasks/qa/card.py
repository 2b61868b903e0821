"""The model card's usage section for an extractive QA run (backend.serving.export writes the rest of the card)."""
from __future__ import annotations

from backend.tasks.cards import how_to_load
from backend.tasks.qa.features import MAX_ANSWER_TOKENS, stride_for


def length_note(spec) -> str:
    return (f"- Contexts longer than {spec.max_length} tokens are read in overlapping windows of {spec.max_length} "
            f"tokens ({stride_for(spec.max_length, spec.doc_stride)} shared), and the best answer over them is kept.")


def usage(folder: str, spec) -> str:
    """transformers 5 has no question-answering pipeline any more, so the card shows the few lines it took: the best
    span inside the context against the [CLS] score, which stands for no answer."""
    stride = stride_for(spec.max_length, spec.doc_stride)
    return how_to_load(folder, [
        "import torch",
        "from transformers import AutoModelForQuestionAnswering, AutoTokenizer", "",
        f'model = AutoModelForQuestionAnswering.from_pretrained("{folder}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
        'question, context = "Who built the bridge?", "The bridge was built in 1887 by Ada Smith."',
        f'inputs = tokenizer(question, context, truncation="only_second", max_length={spec.max_length},',
        '                   return_offsets_mapping=True, return_tensors="pt")',
        'offsets = inputs.pop("offset_mapping")[0].tolist()',
        "with torch.no_grad():",
        "    output = model(**inputs)",
        "start, end = output.start_logits[0].tolist(), output.end_logits[0].tolist()",
        "tokens = [i for i, segment in enumerate(inputs.sequence_ids(0)) if segment == 1]  # the context's tokens",
        f"score, first, last = max((start[i] + end[j], i, j) for i in tokens for j in tokens if 0 <= j - i < "
        f"{MAX_ANSWER_TOKENS})",
        "# No answer when the [CLS] token (position 0) scores higher than the best span.",
        'print(context[offsets[first][0]:offsets[last][1]] if score > start[0] + end[0] else "no answer")',
    ], (f"This reads the first {spec.max_length} tokens. MiniLM Studio reads a longer context in windows of "
        f"{spec.max_length} tokens overlapping by {stride} and keeps the best span over them; with transformers 4.x, "
        f'`pipeline("question-answering", model=model, tokenizer=tokenizer)(question=question, context=context, '
        f"handle_impossible_answer=True, max_seq_len={spec.max_length}, doc_stride={stride})` does the same.",))
