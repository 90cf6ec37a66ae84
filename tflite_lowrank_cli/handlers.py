"""The handlers of `convert`, `benchmark` and `compare`.

Private part of `tflite_lowrank_cli.main`; `tflite_lowrank_cli.tflite` registers them
with their parsers. Cheap checks (paths, modes, numbers) happen before TensorFlow is
imported, so that usage errors are reported at once: the handlers import `convert`
and `benchmark` lazily. Their errors name flags, not the library's arguments
(`flags.with_flag_names`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from tflite_lowrank_cli.flags import DATA_PHRASES, import_hint, with_flag_names
from tflite_lowrank_cli.inputs import (
    _PROG,
    _check_data_path,
    _load_data,
    _tflite_input,
)


def _import_modules(names: list[str]) -> None:
    """Imports the user's modules (`--import`); a failure names the module."""
    import importlib
    import os

    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # As `python -m` does; the script does not.
    for name in names:
        try:
            importlib.import_module(name)
        # ImportError, an error raised by the module, or its `sys.exit()`; a Ctrl-C
        # (KeyboardInterrupt) stops the command as anywhere else.
        except (Exception, SystemExit) as error:
            lines = str(error).splitlines()
            detail = type(error).__name__ + (f": {lines[0]}" if lines else "")
            raise ValueError(
                f"importing {name} (--import) failed: {detail}. Check that `--import` "
                "names a module importable from the current folder or the "
                "environment, and that importing it neither exits nor raises. "
                f"Received: --import={name!r}"
            ) from None


def _model_rows(args, flag: str, path: str, model, convert, *, with_labels: bool):
    """Rows (and labels) of `--representative-data` or `--check-data` for a model.

    A `--vocab` must have as many tokens as the model's token table (as for
    `benchmark` and `compare`: `_load_data(tables=...)`).
    """
    from tflite_lowrank.export.keras_model import model_vocabulary_size

    input_names = convert.model_input_names(model)
    seq_len = args.seq_len or convert.model_seq_len(model)
    if seq_len is None and len(input_names) < 2:
        raise ValueError(
            "The model's input length is not fixed: pass `--seq-len`, the length "
            f"the tokenizer pads to. Received: no --seq-len, {flag}={path!r}"
        )
    return _load_data(
        path,
        flag=flag,
        vocab=args.vocab,
        labels_file=args.labels if with_labels else None,
        seq_len=seq_len or 1,
        with_labels=with_labels,
        tokenizer_mode=args.tokenizer,
        input_names=input_names if len(input_names) > 1 else ("token_ids",),
        model=f"MODEL.keras={args.model!r}",
        tables=[(args.model, model_vocabulary_size(model))],
    )


@with_flag_names
def _handle_convert(args: argparse.Namespace) -> int:
    from tflite_lowrank.export.keras_model import check_keras_file, check_seq_len
    from tflite_lowrank.utils.files import check_output_file

    output = check_output_file(
        args.output, suffix=".tflite", name="OUT.tflite", overwrite=args.overwrite
    )
    model_path = check_keras_file(args.model, name="MODEL.keras")
    if args.seq_len is not None:  # Before a .tsv is tokenized at that length.
        check_seq_len(args.seq_len)
    if args.quantization == "int8" and args.representative_data is None:
        raise ValueError(
            "`--quantization int8` calibrates on real rows: pass "
            "`--representative-data FILE` (a few hundred training rows), or use "
            "`--quantization dynamic`. Received: no --representative-data"
        )
    for flag, path in (
        ("--representative-data", args.representative_data),
        ("--check-data", args.check_data),
    ):
        if path is not None:
            _check_data_path(path, flag, args.vocab)

    from tflite_lowrank.errors import OutputMismatchError
    from tflite_lowrank.export import converter as convert

    _import_modules(args.imports)
    try:
        model = convert.load_keras_model(model_path)
    except ValueError as error:
        raise ValueError(import_hint(str(error))) from None
    representative_data = check_data = None
    if args.representative_data is not None:
        representative_data, _ = _model_rows(
            args,
            "--representative-data",
            args.representative_data,
            model,
            convert,
            with_labels=False,
        )
    if args.check_data is not None:
        rows, labels = _model_rows(
            args, "--check-data", args.check_data, model, convert, with_labels=True
        )
        check_data = rows if labels is None else (rows, labels)
    try:
        result = convert.convert_to_tflite(
            model,
            output,
            quantization=args.quantization,
            representative_data=representative_data,
            overwrite=args.overwrite,
            keep_logits=args.keep_logits,
            seq_len=args.seq_len,
            fold_projection=args.fold_projection,
            check_data=check_data,
        )
    except (OutputMismatchError, RuntimeError) as error:
        from tflite_lowrank_cli.flags import to_flags

        print(f"{_PROG} convert: check failed: {to_flags(str(error))}", file=sys.stderr)
        return 1
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2))
        return 0
    inputs = ", ".join(
        f"{spec.name} {spec.dtype} {list(spec.shape)}" for spec in result.inputs
    )
    outputs = ", ".join(
        f"{spec.name} {spec.dtype} {list(spec.shape)}" for spec in result.outputs
    )
    two_class = f" (two-class [1 - p, p]: {', '.join(result.two_class_outputs)})"
    accuracy = (
        f"; accuracy on --check-data {result.accuracy:.2%} (Keras "
        f"{result.keras_accuracy:.2%})"
        if result.accuracy is not None
        else ""
    )
    print(
        f"Wrote {result.path}: {result.size_bytes:,} bytes, {result.quantization}, "
        f"embedding {result.embedding_bytes:,} bytes; "
        f"input{'s' if len(result.inputs) > 1 else ''} {inputs}, "
        f"output{'s' if len(result.outputs) > 1 else ''} {outputs}"
        f"{' (softmax appended)' if result.appended_softmax else ''}"
        f"{two_class if result.two_class_outputs else ''}; "
        f"max |tflite - keras| {result.max_output_difference:.2g} on "
        f"{result.check_rows} {result.check_source} rows{accuracy}; "
        f"ops: {', '.join(result.ops)}"
    )
    return 0


@with_flag_names(phrases=DATA_PHRASES)
def _handle_benchmark(args: argparse.Namespace) -> int:
    from tflite_lowrank.benchmark import api as benchmark

    inputs, rows = _tflite_input(args.model, "MODEL.tflite")
    token_ids = labels = None
    if args.data is not None:
        _check_data_path(args.data, "--data", args.vocab)
        token_ids, labels = _load_data(
            args.data,
            flag="--data",
            vocab=args.vocab,
            labels_file=args.labels,
            seq_len=inputs[0][1],
            tables=[(args.model, rows)],
            tokenizer_mode=args.tokenizer,
            input_names=[name for name, _ in inputs],
            model=f"MODEL.tflite={args.model!r}",
        )
    try:
        result = benchmark.benchmark_tflite(
            args.model,
            token_ids=token_ids,
            labels=labels,
            num_threads=args.threads,
            warmup_runs=args.warmup,
            num_runs=args.runs,
            progress=False if args.no_progress else None,
            output=args.output,
        )
    except RuntimeError as error:  # The LiteRT process died or failed.
        return _process_failed("benchmark", error)
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2))
        return 0
    accuracy = "n/a" if result.accuracy is None else f"{result.accuracy:.2%}"
    scored = f" (output {result.output})" if result.output else ""
    print(
        "\n".join(
            [
                f"file: {result.path} ({result.size_bytes:,} bytes)",
                "input: "
                + ", ".join(f"{name} int32 [1, {size}]" for name, size in inputs)
                + f", {result.num_samples} rows; threads: {result.num_threads}",
                f"load: {result.load_time_ms:.3f} ms; first inference: "
                f"{result.first_inference_ms:.3f} ms",
                f"latency ({result.num_runs} runs): p50 "
                f"{result.latency_p50_ms:.4f} ms, p90 "
                f"{result.latency_p90_ms:.4f} ms, mean "
                f"{result.latency_mean_ms:.4f} ms",
                f"memory: peak {result.peak_memory_bytes / 2**20:.1f} MiB, model "
                f"{result.model_memory_bytes / 2**20:.1f} MiB",
                f"accuracy{scored}: {accuracy}",
            ]
        )
    )
    return 0


@with_flag_names(phrases=DATA_PHRASES)
def _handle_compare(args: argparse.Namespace) -> int:
    from tflite_lowrank.benchmark import api as benchmark
    from tflite_lowrank.utils.files import check_output_file

    if not -len(args.models) <= args.reference < len(args.models):
        raise ValueError(
            f"`--reference` must index one of the {len(args.models)} files. "
            f"Received: reference={args.reference}"
        )
    if args.plot is not None:
        check_output_file(
            args.plot, suffix=".png", name="--plot", overwrite=args.overwrite
        )
    inputs = [_tflite_input(path, "MODEL.tflite") for path in args.models]
    first = inputs[0][0]  # The other files are checked against the rows read here.
    _check_data_path(args.data, "--data", args.vocab)
    token_ids, labels = _load_data(
        args.data,
        flag="--data",
        vocab=args.vocab,
        labels_file=args.labels,
        seq_len=first[0][1],
        tables=[
            (path, rows) for path, (_, rows) in zip(args.models, inputs, strict=True)
        ],
        tokenizer_mode=args.tokenizer,
        input_names=[name for name, _ in first],
        model=f"MODEL.tflite={args.models[0]!r}",
    )
    if args.max_accuracy_drop is not None and labels is None:
        raise ValueError(
            "`--max-accuracy-drop` needs labels: use a .npz with `labels` or a .tsv. "
            f"Received: data={args.data!r} without labels"
        )
    try:
        comparison = benchmark.compare_models(
            args.models,
            token_ids,
            labels,
            reference=args.reference,
            num_threads=args.threads,
            warmup_runs=args.warmup,
            num_runs=args.runs,
            progress=False if args.no_progress else None,
            output=args.output,
        )
    except RuntimeError as error:  # A LiteRT process died or failed.
        return _process_failed("compare", error)
    if args.plot is not None:
        comparison.plot(args.plot, overwrite=args.overwrite)
        # The command line logs its diagnostics as `tflite_lowrank_cli.main`.
        logging.getLogger("tflite_lowrank_cli.main").info(
            "Saved the plot to %s.", args.plot
        )
    print(comparison.to_json() if args.json else comparison.to_markdown())
    drop = comparison.max_accuracy_drop
    if args.max_accuracy_drop is not None and drop > args.max_accuracy_drop:
        worst = min(comparison.rows, key=lambda row: row.accuracy_delta)
        print(
            f"{_PROG} compare: check failed: {worst.name} is {100 * drop:.2f} "
            f"accuracy points below the reference, more than the "
            f"{100 * args.max_accuracy_drop:.2f} allowed by --max-accuracy-drop.",
            file=sys.stderr,
        )
        return 1
    return 0


def _process_failed(command: str, error: RuntimeError) -> int:
    """A LiteRT process that died (killed, out of memory) or failed while measuring:
    one error line, exit 1 (not the user's input)."""
    print(f"{_PROG} {command}: error: {error}", file=sys.stderr)
    return 1
