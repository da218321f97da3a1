"""Checks that keep a stream honest before any noise is drawn (no Spark): privacy units bound
to columns in the bundle, distinct non-overlapping sources, dry-run releases, no future
periods, and one failing stream never blocking the others."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from lakeward.errors import BudgetExhausted, InputError
from lakeward.identity import Principal, acting_as
from tests.unit.dp.conftest import definition, insert_stream


def _register(catalog: Any, root: Path, *names: str) -> None:
    """Catalogued datasets under ``root`` (directories; their files are listed at use)."""
    from lakeward.catalog import DatasetRepository

    for name in names:
        folder = root / name.replace(".", "/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00000.parquet").write_bytes(b"PAR1")
        with catalog.session() as session:
            DatasetRepository(session).register(
                name=name,
                uri=folder.as_uri(),
                lake_root=root.as_uri(),
                format="parquet",
                layout="directory",
                file_count=1,
                bytes=4,
            )


@pytest.fixture
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_stream's schema check without a JVM (the Spark tests check it for real)."""
    import lakeward.spark
    from lakeward.dp import _aggregate

    monkeypatch.setattr(lakeward.spark, "session", lambda *a, **k: None)
    monkeypatch.setattr(_aggregate, "schema_hash", lambda *a, **k: "test")


@pytest.fixture
def lake(tmp_path: Path, catalog: Any, dp_bundle: Path) -> Path:
    from lakeward.policy import acknowledge_purpose, engine_for

    root = tmp_path / "lake"
    _register(catalog, root, "sales.orders", "web.clicks")
    acknowledge_purpose(catalog, engine_for(catalog).bundle, "alice", "analytics")
    return root


def _orders(**over: Any) -> dict[str, Any]:
    base = definition(
        name="orders",
        datasets=["sales.orders"],
        unit_column="customer_id",
        unit="customer",
        max_periods=1,
        rho=0.5,
    )
    base.pop("principal")
    return base | over


def test_a_unit_column_is_spent_under_its_declared_unit_only(
    catalog: Any, lake: Path, dp_bundle: Path, no_spark: None
) -> None:
    from lakeward.dp import create_stream

    with (dp_bundle / "budgets.yaml").open("a") as fh:  # as in the default bundle
        fh.write('  - {unit: visitor, principal: "*", purpose: analytics, rho: 2.0}\n')
    create_stream(catalog, _orders(), actor="alice")  # customer: the whole 0.5 cap
    # The same people under another unit name would get a second budget: refused, with the fix.
    with pytest.raises(InputError) as exc:
        create_stream(catalog, _orders(name="orders-2", unit="visitor", rho=2.0), actor="alice")
    message = str(exc.value)
    assert "column 'customer_id' of sales.orders identifies privacy unit 'customer'" in message
    assert "set `unit: customer`" in message
    with pytest.raises(BudgetExhausted, match="exceeds what remains of the cap"):
        create_stream(catalog, _orders(name="orders-3"), actor="alice")
    # A column no unit declares, and a unit the bundle does not know, are refused too.
    with pytest.raises(InputError) as exc:
        create_stream(catalog, _orders(name="o4", unit_column="email"), actor="alice")
    assert "column 'email' of sales.orders is not declared as identifying a privacy unit" in str(
        exc.value
    )
    assert "`- {dataset: sales.orders, column: email}` under `customer:`" in str(exc.value)
    with pytest.raises(InputError, match="unit 'shopper' is not a privacy unit of the policy"):
        create_stream(catalog, _orders(name="o5", unit="shopper"), actor="alice")
    from lakeward.catalog import DPStream

    with catalog.session() as session:
        assert session.scalars(select(DPStream.name)).all() == ["orders"]


def test_units_yaml_is_validated(dp_bundle: Path) -> None:
    from lakeward.policy import PolicyBundleError, load_bundle

    bundle = load_bundle(dp_bundle)
    assert bundle.units_identified_by("web.clicks", "user_id") == ["visitor"]
    assert bundle.units_identified_by("sales.orders", "customer_id") == ["customer"]
    assert bundle.units_identified_by("sales.orders", "user_id") == []
    (dp_bundle / "units.yaml").write_text(
        yaml.safe_dump(
            {
                "units": {
                    "customer": [{"dataset": "sales.*", "column": "customer_id"}],
                    "buyer": [{"dataset": "sales.*", "column": "customer_id"}],
                    "a/period": [{"dataset": "*", "column": "x"}],
                    "empty": [],
                }
            },
            sort_keys=False,
        )
    )
    with pytest.raises(PolicyBundleError) as exc:
        load_bundle(dp_bundle)
    problems = "\n".join(exc.value.problems)
    assert "declared for both 'customer' and 'buyer'" in problems
    assert "unit 'a/period' is not a valid name" in problems
    assert "unit 'empty' must list the columns" in problems


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from lakeward.cli import main

    with acting_as(Principal("alice", ("analysts",), "server", "test")):
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_duplicate_and_overlapping_sources_are_refused_at_create(
    catalog: Any,
    lake: Path,
    no_spark: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "stream.yaml"
    path.write_text(
        yaml.safe_dump(_orders(datasets=["sales.orders", "sales.orders"]), sort_keys=False)
    )
    code, _, err = _cli(capsys, "dp", "stream", "create", "-f", str(path))
    assert code == 2 and "sales.orders listed more than once" in err, err
    _register(catalog, lake, "sales")  # a dataset whose folder holds sales/orders
    path.write_text(yaml.safe_dump(_orders(datasets=["sales", "sales.orders"]), sort_keys=False))
    code, _, err = _cli(capsys, "dp", "stream", "create", "-f", str(path))
    assert code == 2 and "source datasets sales and sales.orders overlap" in err, err
    code, out, _ = _cli(capsys, "dp", "stream", "list", "--json")
    assert json.loads(out) == []


def _spent(catalog: Any) -> tuple[int, float]:
    from lakeward.catalog import DPRelease
    from lakeward.policy import BudgetLedger, engine_for

    with catalog.session() as session:
        rows = session.scalar(select(func.count()).select_from(DPRelease))
    ledger = BudgetLedger(catalog, engine_for(catalog).bundle)
    return int(rows or 0), ledger.spent("visitor/period", "alice", "analytics")


def test_release_is_a_dry_run_without_yes_and_refuses_unended_periods(
    catalog: Any, dp_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakeward.dp import stream_counter
    from lakeward.policy import acknowledge_purpose, engine_for
    from lakeward.policy._tests import seed_datasets

    now = dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(days=3, hours=12)).replace(microsecond=0)
    _, spec = insert_stream(catalog, start=start.isoformat())
    counter = stream_counter(spec)
    # The dry run asks the policy too: an unregistered source would be refused (exit 1).
    code, out, err = _cli(capsys, "dp", "release")
    assert code == 1 and "the policy would deny dp.release on web.clicks" in err, err
    seed_datasets(catalog, {"web.clicks": {"tags": [], "classified": True}})
    acknowledge_purpose(catalog, engine_for(catalog).bundle, "alice", "analytics")
    code, out, err = _cli(capsys, "dp", "release")
    assert code == 0, err
    assert out.strip() == (
        f"clicks: would release periods 1–3, charging rho {counter.rho_through(3):.4g} to "
        "(visitor/period, alice, analytics)"
    )
    assert "dry run: nothing released or spent; pass --yes" in err
    code, out, _ = _cli(capsys, "dp", "release", "--json", "--period", "2")
    plan = json.loads(out)
    assert plan["dry_run"] and plan["streams"][0]["periods"] == [1, 2]
    assert _spent(catalog) == (0, 0.0)

    # Period 4 ends in 12 hours; a --now later than the clock would release empty periods.
    future = (now + dt.timedelta(days=2)).isoformat()
    for argv in (
        ("--period", "4", "--yes"),
        ("--period", "4"),
        ("--now", future, "--yes"),
        ("--now", future),
    ):
        code, _, err = _cli(capsys, "dp", "release", *argv)
        assert code == 2, (argv, err)
        assert ("period 4 has not ended" in err) or ("is later than the clock" in err), err
    assert _spent(catalog) == (0, 0.0)

    # A dataset the policy protects from DP releases, and a cap already spent: refused, exit 1.
    seed_datasets(catalog, {"web.clicks": {"tags": ["restricted"], "classified": True}})
    code, out, err = _cli(capsys, "dp", "release", "--json")
    plan = json.loads(out)["streams"][0]
    assert code == 1 and plan["refused_by"] == "policy", err
    assert "no-dp-release-from-protected-data" in err, err
    assert _spent(catalog) == (0, 0.0)


def test_server_runs_a_dry_run_inline_and_only_yes_starts_the_deployment() -> None:
    from lakeward.server._commands import _flow_parameters

    assert _flow_parameters(["dp", "release", "clicks"]) is None
    parsed = _flow_parameters(["dp", "release", "clicks", "--yes"])
    assert parsed is not None and parsed[1] == {"streams": ["clicks"], "through": None}


def test_one_failing_stream_never_blocks_the_others(
    catalog: Any, dp_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from lakeward.dp import ReleaseIncomplete, _service, release_streams

    for name in ("a-broken", "b-halted", "c-fine"):
        insert_stream(catalog, name=name)
    with catalog.session() as session:
        from lakeward.catalog import DPStream

        halted = session.scalar(select(DPStream).where(DPStream.name == "b-halted"))
        assert halted is not None
        halted.state, halted.halt_reason = "halted", "test"
    done: list[str] = []

    def fake(catalog: Any, row: Any, **_: Any) -> list[Any]:
        if row.name == "a-broken":
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        done.append(row.name)
        return []

    release_stream = _service.release_stream
    monkeypatch.setattr(_service, "release_stream", fake)
    with pytest.raises(ReleaseIncomplete) as exc:
        release_streams(catalog, actor="scheduler")
    assert done == ["c-fine"]  # the stream after the broken one was still released
    assert list(exc.value.failures) == ["a-broken"] and exc.value.released == {"c-fine": []}
    assert exc.value.exit_code == 1 and "UNIQUE constraint failed" in str(exc.value)
    # A single stream raises its own error.
    monkeypatch.setattr(_service, "release_stream", release_stream)
    with pytest.raises(InputError, match="is halted"):
        release_streams(catalog, ["b-halted"], actor="s")
