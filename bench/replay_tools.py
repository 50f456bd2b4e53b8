#!/usr/bin/env python
"""Which vectorised tool should the replay engine use? The engine's two column operations, timed per tool.

    python bench/replay_tools.py                 # 1,000,000 events over 100,000 leads, 5 runs
    python bench/replay_tools.py --events 200000 --repeat 3

The replay (core/replay.py) spends its vector time in two steps:

- **fold**: each lead's running score along its events in log order, with the floor at 0
  (``a_i = S_i - min(0, min_{j<=i} S_j)`` over the lead's prefix sums), giving every event's score before and
  after it and each lead's final score;
- **combinations**: the distinct (event type, properties the rules read, rule-window interval) of the events, each
  event's code (matching runs once per combination).

Each step runs on numpy (what core/replay.py does), pandas (groupby cumsum/cummin, factorize), polars
(``over`` windows, ``rank("dense")``) and DuckDB (window functions over the columns, registered from numpy) when
that package is importable: polars and DuckDB are not dependencies of Leadvane, so install them into a scratch
venv to compare (``pip install polars duckdb``). Every tool's result is checked equal to numpy's before timing.
Prints the median and the spread (min-max) of the runs per tool and step, and each tool's ratio to numpy.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.replay import _fold  # the engine's own fold, timed as it runs

Fold = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]
Combine = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def generate(events: int, leads: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "lead": rng.integers(0, leads, events, dtype=np.int64),  # in seq order, as the log is read
        "delta": rng.choice(np.array([-20, -5, 0, 1, 2, 5, 10, 30], dtype=np.int64), events),
        "event_type": rng.integers(0, 40, events, dtype=np.int64),
        "props": rng.integers(0, 2_000, events, dtype=np.int64),  # distinct metadata texts
        "interval": rng.integers(0, 3, events, dtype=np.int64),  # rule-window interval of the event's time
    }


# --- fold ---------------------------------------------------------------------------------------------------------


def fold_numpy(lead: np.ndarray, delta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _fold(lead, delta, n, False)


def fold_pandas(lead: np.ndarray, delta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd

    frame = pd.DataFrame({"lead": lead, "delta": delta})
    grouped = frame.groupby("lead", sort=False)["delta"]
    prefix = grouped.cumsum()
    running_min = prefix.groupby(frame["lead"], sort=False).cummin()
    after = (prefix - np.minimum(running_min, 0)).to_numpy()
    before = after - delta
    # The floor can lift a score: before is the previous event's after (0 for the first).
    previous = pd.Series(after).groupby(frame["lead"], sort=False).shift(1, fill_value=0).to_numpy()
    final = np.zeros(n, dtype=np.int64)
    last = frame.groupby("lead", sort=False).tail(1).index.to_numpy()
    final[lead[last]] = after[last]
    del before
    return previous, after, final


def fold_polars(lead: np.ndarray, delta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import polars as pl

    frame = pl.DataFrame({"lead": lead, "delta": delta})
    out = frame.with_columns(prefix=pl.col("delta").cum_sum().over("lead")).with_columns(
        after=pl.col("prefix") - pl.min_horizontal(pl.col("prefix").cum_min().over("lead"), pl.lit(0))
    ).with_columns(before=pl.col("after").shift(1, fill_value=0).over("lead"))
    after = out["after"].to_numpy()
    final = np.zeros(n, dtype=np.int64)
    finals = out.group_by("lead").agg(pl.col("after").last())
    final[finals["lead"].to_numpy()] = finals["after"].to_numpy()
    return out["before"].to_numpy(), after, final


def fold_duckdb(lead: np.ndarray, delta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import duckdb

    con = duckdb.connect()
    con.register("ev", {"pos": np.arange(len(lead)), "lead": lead, "delta": delta})
    rows = con.execute(
        """
        WITH s AS (
            SELECT pos, lead, SUM(delta) OVER w AS prefix FROM ev
            WINDOW w AS (PARTITION BY lead ORDER BY pos ROWS UNBOUNDED PRECEDING)
        ), a AS (
            SELECT pos, lead, prefix - LEAST(MIN(prefix) OVER w, 0) AS after FROM s
            WINDOW w AS (PARTITION BY lead ORDER BY pos ROWS UNBOUNDED PRECEDING)
        )
        SELECT pos, lead, after, COALESCE(LAG(after) OVER (PARTITION BY lead ORDER BY pos), 0) AS before
        FROM a ORDER BY pos
        """
    ).fetchnumpy()
    con.close()
    after = rows["after"].astype(np.int64)
    final = np.zeros(n, dtype=np.int64)
    final[rows["lead"]] = after  # in pos order: each lead's last write is its last event
    return rows["before"].astype(np.int64), after, final


# --- combinations -------------------------------------------------------------------------------------------------


def combine_numpy(event_type: np.ndarray, props: np.ndarray, interval: np.ndarray) -> np.ndarray:
    # As core/replay.py does: the key columns packed into one int64, then one np.unique.
    n_props, width = int(props.max()) + 1, int(interval.max()) + 1
    _, codes = np.unique((event_type * n_props + props) * width + interval, return_inverse=True)
    return codes.reshape(-1).astype(np.int64)


def combine_pandas(event_type: np.ndarray, props: np.ndarray, interval: np.ndarray) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame({"t": event_type, "p": props, "i": interval})
    return frame.groupby(["t", "p", "i"], sort=True).ngroup().to_numpy()


def combine_polars(event_type: np.ndarray, props: np.ndarray, interval: np.ndarray) -> np.ndarray:
    import polars as pl

    # The same packed int64 key as numpy (a struct rank measured ~10x slower).
    key = (event_type * (int(props.max()) + 1) + props) * (int(interval.max()) + 1) + interval
    return (pl.Series(key).rank("dense") - 1).cast(pl.Int64).to_numpy()


def combine_duckdb(event_type: np.ndarray, props: np.ndarray, interval: np.ndarray) -> np.ndarray:
    import duckdb

    con = duckdb.connect()
    key = (event_type * (int(props.max()) + 1) + props) * (int(interval.max()) + 1) + interval
    con.register("ev", {"pos": np.arange(len(event_type)), "k": key})
    rows = con.execute("SELECT DENSE_RANK() OVER (ORDER BY k) - 1 AS code FROM ev ORDER BY pos").fetchnumpy()
    con.close()
    return rows["code"].astype(np.int64)


def available() -> list[str]:
    tools = ["numpy", "pandas"]
    for name in ("polars", "duckdb"):
        try:
            __import__(name)
        except ImportError:
            print(f"{name}: not installed (pip install {name} into a scratch venv to compare)")
        else:
            tools.append(name)
    return tools


def timed(work: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cols = generate(args.events, args.leads)
    folds: dict[str, Fold] = {"numpy": fold_numpy, "pandas": fold_pandas, "polars": fold_polars, "duckdb": fold_duckdb}
    combines: dict[str, Combine] = {
        "numpy": combine_numpy, "pandas": combine_pandas, "polars": combine_polars, "duckdb": combine_duckdb,
    }
    tools = available()
    print(f"{args.events:,} events, {args.leads:,} leads, {args.repeat} runs each; median (min-max), ratio to numpy")
    steps: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = [
        ("fold", folds, (cols["lead"], cols["delta"], args.leads)),
        ("combinations", combines, (cols["event_type"], cols["props"], cols["interval"])),
    ]
    for step, table, call_args in steps:
        reference: Any = None
        base = 0.0
        for tool in tools:
            times, result = timed(functools.partial(table[tool], *call_args), args.repeat)
            if reference is None:
                reference, base = result, statistics.median(times)
            else:
                expected = reference if isinstance(reference, tuple) else (reference,)
                got = result if isinstance(result, tuple) else (result,)
                assert all(np.array_equal(e, g) for e, g in zip(expected, got, strict=True)), f"{tool} {step} differs"
            median = statistics.median(times)
            print(f"  {step:<13} {tool:<7} {median:7.3f} s ({min(times):.3f}-{max(times):.3f})  x{median / base:5.2f}")


if __name__ == "__main__":
    main()
