"""Running the rules through great-expectations (GX Core 1.x) and reading the failures back.

An ephemeral GX context holds the suite; one checkpoint validates the index frame and a local
Data Docs site under the report folder is rebuilt. Every failing row of every failed expectation
becomes a :class:`~avsc.data.validation.report.Problem` naming the offending file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from avsc.data.validation.index import KEY
from avsc.data.validation.report import Problem
from avsc.data.validation.rules import SUITE_NAME, Rule

log = logging.getLogger(__name__)


def site_config(folder: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def run_suite(df: pd.DataFrame, rules: list[Rule], *, docs_dir: Path) -> tuple[Any, Path | None]:
    """Run the suite through a GX checkpoint that also updates a local Data Docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={"avsc_site": site_config(docs_dir)},
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("avsc").add_dataframe_asset("tau_index")
    batch = asset.add_batch_definition_whole_dataframe("all_rows")
    # The suite is built in one go: adding expectations one by one re-serialises it every time.
    # Derived columns exist by construction; the index columns are checked.
    columns = ["source", "split", "filename_audio", "filename_video", "scene_label", "identifier"]
    expectations = [gx.expectations.ExpectColumnToExist(column=c) for c in columns]
    for i, rule in enumerate(rules):
        rule.expectation.meta = {"avsc_rule": i, "rule": rule.rule}
        expectations.append(rule.expectation)
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="tau_dataset", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="avsc_validate",
            validation_definitions=[definition],
            actions=[],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [KEY, "filename_audio"]},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": df})
    (validation,) = result.run_results.values()
    index = docs_dir / "index.html"
    try:
        context.build_data_docs(site_names=["avsc_site"])
    except Exception as exc:  # rendering problems must not lose the validation result
        log.warning("GX Data Docs could not be built (%s)", str(exc).splitlines()[0] if str(exc) else exc)
    return validation, index if index.is_file() else None


def format_detail(template: str, row: dict[str, Any], value: Any) -> str:
    try:
        return template.format(value=value, row=row.get(KEY), **row)
    except (KeyError, ValueError, TypeError, IndexError):
        return f"found {value!r}"


def problems_from_results(validation: Any, df: pd.DataFrame, rules: list[Rule]) -> list[Problem]:
    """One :class:`Problem` per failing row of every failed expectation."""
    rows = {r[KEY]: r for r in df.to_dict("records")}
    problems: list[Problem] = []
    for res in validation.results:
        if res.success:
            continue
        config = res.expectation_config
        meta = config.meta or {}
        if "avsc_rule" not in meta:
            problems.append(Problem("<index>", f"{config.type} failed", json.dumps(config.kwargs, default=str)))
            continue
        rule = rules[int(meta["avsc_rule"])]
        exc = res.exception_info or {}
        if isinstance(exc, dict) and exc.get("raised_exception"):
            problems.append(Problem("<index>", rule.rule, f"expectation raised {exc.get('exception_message')}"))
            continue
        column = config.kwargs.get("column")
        for entry in (res.result or {}).get("unexpected_index_list") or []:
            row = rows.get(entry.get(KEY), {})
            file = row.get(rule.file_column) or row.get("filename_audio") or row.get("source") or "<index>"
            problems.append(Problem(str(file), rule.rule, format_detail(rule.detail, row, row.get(column))))
    return problems
