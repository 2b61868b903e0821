"""The command line: `python -m backend <command>`. Same job spec as the UI; JSON on stdout for scripts.

Unusable input exits 2 with one readable line on stderr, never a traceback (`--debug` shows it).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backend import tasks
from backend.schemas import DataSpec, JobSpec, StudioError

EXIT_USAGE = 2
DOC_STRIDE_HELP = "extractive QA: tokens shared by neighbouring windows of a long context (default: max length / 4)"


def flags(option: str, dest: str) -> list[str]:
    """`option` and the names task kinds give the same option (e.g. --question-column for --text-column): a kind
    that reads other roles under the generic ones names them without the command line knowing which kind it is."""
    return [option, *(alias for kind in tasks.KINDS.values() for alias in kind.cli_aliases.get(dest, ()))]


def add_column_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval-csv", help="validation CSV; without it a stratified split of the training CSV is held out")
    parser.add_argument(*flags("--text-column", "text_column"), dest="text_column", metavar="COLUMN",
                        help="column with the text, or the question for extractive QA (guessed from the headers "
                             "when left out)")
    parser.add_argument(*flags("--text-pair-column", "text_pair_column"), dest="text_pair_column", metavar="COLUMN",
                        help="column with the second text for text-pair tasks, or the context for extractive QA")
    parser.add_argument(*flags("--label-column", "label_column"), dest="label_column", metavar="COLUMN",
                        help="column with the label, or the answer text for extractive QA (guessed when left out)")
    parser.add_argument("--answer-start-column", metavar="COLUMN",
                        help="extractive QA: column with the answer's character offset in the context (empty "
                             "answer and start: unanswerable; guessed from the headers when left out)")
    parser.add_argument("--label-separator", metavar="SEP",
                        help="multi-label: what joins the labels of one cell, e.g. '|' for billing|urgent (detected "
                             "among | ; , when left out)")
    parser.add_argument("--label-columns", metavar="A,B,C", type=column_names,
                        help="multi-label: the 0/1 columns, one per label, comma-separated (detected when a table has "
                             "two or more 0/1 columns and no column named like a label)")
    parser.add_argument("--task", choices=sorted(tasks.names()),
                        help="task kind (detected from the columns when left out)")


def column_names(value: str) -> list[str]:
    """'toxic, obscene,insult' -> ['toxic', 'obscene', 'insult']."""
    return [name.strip() for name in value.split(",") if name.strip()]


def data_spec_from(args: argparse.Namespace, csv: str) -> DataSpec:
    return DataSpec(
        train_csv=csv, eval_csv=args.eval_csv, text_column=args.text_column,
        text_pair_column=args.text_pair_column, label_column=args.label_column, task=args.task,
        answer_start_column=args.answer_start_column, label_separator=args.label_separator,
        label_columns=args.label_columns or None,
    )


def print_json(value) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def cmd_models(args: argparse.Namespace) -> int:
    from backend.models import catalog

    rows = catalog.list_models()
    if args.json:
        print_json(rows)
        return 0
    print(f"{'key':<14} {'model':<34} {'params':>7}  {'hub id':<38} where")
    for row in rows:
        params = f"{row['num_parameters'] / 1e6:.1f}M" if row.get("num_parameters") else "?"
        where = row["source"] + (f": {row['reason']}" if row.get("reason") else "")
        print(f"{row['key']:<14} {row['display_name']:<34} {params:>7}  {row.get('hub_id') or '-':<38} {where}")
    for role in ("minilm", "bert"):
        _, why = catalog.default_model(role)
        print(f"default {role}: {why}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from backend.tasks import loading

    print_json(loading.validate(data_spec_from(args, args.csv)).to_dict())
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from backend.tasks import loading

    print_json(loading.preview_data(data_spec_from(args, args.csv), args.model, args.max_length, args.rows,
                                    doc_stride=args.doc_stride))
    return 0


def job_spec_from(args: argparse.Namespace) -> JobSpec:
    if args.config:
        spec = JobSpec.load(args.config)
    else:
        if not args.train_csv or not args.model:
            raise StudioError("train needs --train-csv and --model (or --config spec.json).")
        spec = JobSpec(data=data_spec_from(args, args.train_csv), model=args.model)
    for name in ("epochs", "max_steps", "batch_size", "learning_rate", "max_length", "doc_stride", "seed",
                 "eval_every_steps", "early_stopping_patience", "precision"):
        value = getattr(args, name)
        if value is not None:
            setattr(spec, name, value)
    return spec


def cmd_train(args: argparse.Namespace) -> int:
    from backend.training import trainer

    spec = job_spec_from(args)
    results = trainer.train(spec, Path(args.output_dir), resume=args.resume)
    if results:  # only the main process returns results under `accelerate launch`
        print_json(results)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from backend.serving import compare

    print_json(compare.compare_runs(args.run_a, args.run_b, remeasure=args.remeasure))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from backend.serving import export

    if not args.output and not args.push_to_hub:
        raise StudioError("export needs --output FILE.zip, --push-to-hub OWNER/NAME, or both.")
    if args.output:
        path = export.export_run(args.run_dir, args.output)
        print(json.dumps({"output": str(path), "bytes": path.stat().st_size}))
    if args.push_to_hub:
        from backend.serving import push

        print(json.dumps(push.push_run(args.run_dir, args.push_to_hub, token=args.token, private=args.private)))
    return 0


def cmd_fetch_models(args: argparse.Namespace) -> int:
    """Download the catalog's hub models (or the named ones) at their pinned revisions; one line per model."""
    from backend.models import catalog

    keys = args.keys or [key for key in catalog.MODELS if key not in catalog.PACKAGED]
    failed = []
    for key in keys:
        try:
            catalog.load_location(key)
            found = catalog.resolve(key)
        except StudioError as exc:
            failed.append(key)
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(json.dumps({"key": found.key, "source": found.source, "location": found.location,
                          "revision": found.revision, "reason": found.reason}), flush=True)
    return EXIT_USAGE if failed else 0


def cmd_predict(args: argparse.Namespace) -> int:
    from backend.serving import batch_scoring, inference

    if args.csv is not None:
        if not args.output or args.text_pair is not None or args.explain:
            raise StudioError("predict --csv needs --output OUT.csv, and takes columns instead of --text-pair "
                              "(--text-column, --text-pair-column); --explain works with --text only.")
        print_json(batch_scoring.score_csv(args.run_dir, args.csv, args.output, args.text_column,
                                           args.text_pair_column, threshold=args.threshold))
        return 0
    result = inference.predict_one(args.run_dir, args.text, args.text_pair, threshold=args.threshold)
    if args.explain:
        result["explanation"] = inference.explain(args.run_dir, args.text, args.text_pair)
    print_json(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="MiniLM Studio from a terminal.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="the model catalog and where each model resolves right now")
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(run=cmd_models)

    validate = commands.add_parser("validate", help="check a CSV and print a JSON report")
    validate.add_argument("csv")
    add_column_options(validate)
    validate.set_defaults(run=cmd_validate)

    preview = commands.add_parser("preview", help="token length statistics and tokenized sample rows")
    preview.add_argument("csv")
    preview.add_argument("--model", required=True, help="catalog key (see `models`) or a local model folder")
    preview.add_argument("--max-length", type=int, default=128)
    preview.add_argument("--rows", type=int, default=5, help="how many sample rows to show as tokens")
    preview.add_argument("--doc-stride", type=int, help=DOC_STRIDE_HELP)
    add_column_options(preview)
    preview.set_defaults(run=cmd_preview)

    train = commands.add_parser("train", help="fine-tune a model; writes a run folder")
    train.add_argument("--config", help="a spec.json (e.g. from a run folder); other options override it")
    train.add_argument("--train-csv")
    train.add_argument("--model", help="catalog key or local model folder")
    add_column_options(train)
    train.add_argument("--epochs", type=float)
    train.add_argument("--max-steps", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--max-length", type=int)
    train.add_argument("--doc-stride", type=int, help=DOC_STRIDE_HELP)
    train.add_argument("--seed", type=int)
    train.add_argument("--eval-every-steps", type=int)
    train.add_argument("--early-stopping-patience", type=int)
    train.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    train.add_argument("--output-dir", required=True)
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    train.set_defaults(run=cmd_train)

    predict = commands.add_parser("predict", help="predictions of a finished run for one text or a whole CSV")
    predict.add_argument("--run-dir", required=True, help="a finished run folder (spec.json, results.json, model/)")
    given = predict.add_mutually_exclusive_group(required=True)
    given.add_argument(*flags("--text", "text"), dest="text",
                       help="one text (or the question, for extractive QA): prints its label and scores (value; "
                            "answer with its start, end and score) with latency_ms")
    given.add_argument("--csv", help="a CSV to score: writes --output and prints a summary")
    predict.add_argument(*flags("--text-pair", "text_pair"), dest="text_pair",
                         help="the second text, for models of text pairs; the context, for extractive QA")
    predict.add_argument("--output", help="where --csv writes its rows with the predictions appended")
    predict.add_argument(*flags("--text-column", "text_column"), dest="text_column",
                         help="--csv: the text (QA: question) column (default: the one the run trained on)")
    predict.add_argument(*flags("--text-pair-column", "text_pair_column"), dest="text_pair_column",
                         help="--csv: the second text (QA: context) column (default: the run's)")
    predict.add_argument("--explain", action="store_true", help="--text: add word attributions (Integrated Gradients)")
    predict.add_argument("--threshold", type=float,
                         help="multi-label: give a label when its probability is at least this (default 0.5)")
    predict.set_defaults(run=cmd_predict)

    compare = commands.add_parser("compare", help="two finished runs side by side: quality, size, speed")
    compare.add_argument("run_a", help="a finished run folder")
    compare.add_argument("run_b", help="another finished run folder of the same task")
    compare.add_argument("--remeasure", action="store_true", help="time inference again instead of using speed.json")
    compare.set_defaults(run=cmd_compare)

    export = commands.add_parser("export", help="a finished run as a zip that transformers loads as is")
    export.add_argument("--run-dir", required=True, help="a finished run folder")
    export.add_argument("--output", help="the zip file to write")
    export.add_argument("--push-to-hub", metavar="OWNER/NAME", help="upload the same files to a new hub repo")
    visibility = export.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="private", action="store_true", default=True,
                            help="--push-to-hub: only you can see the repo (the default)")
    visibility.add_argument("--public", dest="private", action="store_false", help="--push-to-hub: anyone can see it")
    export.add_argument("--token", help="--push-to-hub: a hub token with write access (default: $HF_TOKEN, which "
                                        "keeps it out of the process list and the shell history)")
    export.set_defaults(run=cmd_export)

    fetch = commands.add_parser("fetch-models", help="download the hub models at their pinned revisions, for "
                                                     "later use offline")
    fetch.add_argument("keys", nargs="*", metavar="KEY", help="catalog keys (default: every model not packaged)")
    fetch.set_defaults(run=cmd_fetch_models)

    hashing = commands.add_parser("hash-password", help="a hashed password for a users file (app.py --users)")
    hashing.add_argument("--stdin", action="store_true", help="read the password from stdin instead of asking")
    hashing.set_defaults(run=cmd_hash_password)
    return parser


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print pbkdf2_sha256$...: paste it into the password column of a users file instead of the password."""
    import getpass

    from backend.access.users import hash_password

    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("Password: ")
    if not password:
        raise StudioError("An empty password cannot sign anyone in; type one.")
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except StudioError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
