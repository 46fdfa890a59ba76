"""Files of an optimize run: the optimized config, study.csv, optimize.json and optimize.html."""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path
from typing import Any

from optiflow.config.models import BotConfig
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report.svg import equity_svg, nice_range
from optiflow.optimize.analysis import importance, stability, verdict
from optiflow.optimize.driver import OptimizeResult, StageResult
from optiflow.optimize.scoring import Score

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
background:#fafafa}h2{margin-top:32px;border-bottom:2px solid #ddd}.note{color:#555;font-size:14px}
table{border-collapse:collapse;margin:10px 0;font-size:14px;background:#fff}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f0f0}
.chart{display:block;margin:10px 0;background:#fff;border:1px solid #e0e0e0;max-width:100%;
height:auto}.ct{font-size:13px;font-weight:600}.yl,.xl{font-size:11px;fill:#444}
.yl{text-anchor:end}.grid{stroke:#eee}.zero{stroke:#777}.bad{color:#c62828;font-weight:600}
.good{color:#2e7d32;font-weight:600}
"""
FIGURES = ("net_per_day", "net_pnl", "trades", "win_rate_pct", "max_drawdown_pct", "sharpe")


def config_name(base: str) -> str:
    """The optimized bot's name (at most 40 characters, as the config allows)."""
    return f"{base[:30]}_optimized"


def write_config(out: Path, cfg: BotConfig) -> Path:
    """Write ``runtime_config_<name>_optimized.json`` (exact floats; passes check-config)."""
    named = cfg.model_copy(update={"name": config_name(cfg.name)})
    path = out / f"runtime_config_{named.name}.json"
    path.write_text(json.dumps(named.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path


def write_csv(out: Path, result: OptimizeResult) -> Path:
    """Every trial of every stage: state, value, parameters and figures."""
    keys = [p.key for p in result.request.space]
    path = out / "study.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["study", "stage", "trial", "state", "value", *keys, *FIGURES, "note"])
        for st in result.stages:
            for t in st.trials:
                a = t.user_attrs
                note = a.get("why") or a.get("pruned") or ""
                w.writerow(
                    [st.job.study_name, st.label, t.number, t.state.name, t.value]
                    + [t.params.get(k, "") for k in keys]
                    + [a.get(f, "") for f in FIGURES]
                    + [note]
                )
    return path


def _score(s: Score | None) -> dict[str, Any] | None:
    """A score as JSON."""
    return None if s is None else s.attrs()


def write_json(out: Path, result: OptimizeResult) -> Path:
    """The run's figures as JSON: per stage the best settings, in- and out-of-sample scores."""
    stages = []
    for st in result.stages:
        f = st.fold
        stages.append(
            {
                "label": st.label,
                "study": st.job.study_name,
                "train": [iso_utc(st.job.ts_from), iso_utc(st.job.ts_to)],
                "test": None if f is None else [iso_utc(f.test_from), iso_utc(f.test_to)],
                "trials": len(st.trials),
                "best_value": st.best_value,
                "best_params": st.best_params,
                "in_sample": _score(st.in_sample),
                "out_of_sample": _score(st.out_sample),
            }
        )
    doc = {
        "period": [iso_utc(result.span[0]), iso_utc(result.span[1])],
        "objective": result.request.rules.objective,
        "verdict": verdict(result),
        "interrupted": result.interrupted,
        "stages": stages,
    }
    path = out / "optimize.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def _table(head: list[str], rows: list[list[str]]) -> str:
    """An escaped HTML table."""
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>")
    return "".join([*out, "</table>"])


def _fig(s: Score | None) -> list[str]:
    """$/day, trades, win rate, drawdown of a score (dashes when absent)."""
    if s is None:
        return ["-", "-", "-", "-"]
    return [
        f"{s.net_per_day:+.2f}",
        str(s.trades),
        f"{s.win_rate_pct:.1f} %",
        f"{s.max_drawdown_pct:.1f} %",
    ]


def scatter_svg(points: list[tuple[float, float, str]], title: str) -> str:
    """In-sample (x) vs out-of-sample (y) net $/day, one dot per tested setting."""
    w, h, left, bottom, top, right = 520, 360, 60, 40, 26, 16
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="{escape(title)}"><text x="{left}" y="16" class="ct">{escape(title)}</text>'
    ]
    if not points:
        return "".join([*parts, f'<text x="{left}" y="60" class="xl">no points</text></svg>'])
    xs, ys = [p[0] for p in points] + [0.0], [p[1] for p in points] + [0.0]
    x0, x1 = nice_range(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1)
    y0, y1 = nice_range(min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def py(y: float) -> float:
        return h - bottom - (y - y0) / (y1 - y0) * (h - bottom - top)

    parts.append(
        f'<line x1="{px(x0):.1f}" x2="{px(x1):.1f}" y1="{py(0):.1f}" y2="{py(0):.1f}" '
        f'class="zero"/><line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{py(y0):.1f}" '
        f'y2="{py(y1):.1f}" class="zero"/>'
        f'<text x="{w - right}" y="{h - 8}" text-anchor="end" class="xl">in-sample $/day '
        f'({x0:g} … {x1:g})</text><text x="{left - 6}" y="{top + 10}" class="yl">'
        f"out-of-sample $/day ({y0:g} … {y1:g})</text>"
    )
    for x, y, label in points:
        colour = "#2e7d32" if y > 0 else "#c62828"
        parts.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{colour}" fill-opacity=".7">'
            f"<title>{escape(label)}: in {x:+.2f}, out {y:+.2f} $/day</title></circle>"
        )
    return "".join([*parts, "</svg>"])


def bars_svg(items: list[tuple[str, float]], title: str) -> str:
    """Horizontal bars in [0, 1] with labels (parameter importance)."""
    row, label_w, w = 20, 230, 760
    h = 30 + row * max(len(items), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="{escape(title)}"><text x="10" y="16" class="ct">{escape(title)}</text>'
    ]
    for i, (name, v) in enumerate(items):
        y = 26 + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" class="yl">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{max(v, 0.002) * 440:.1f}" height="{row - 6}" '
            f'fill="#1565c0"/><text x="{label_w + max(v, 0.002) * 440 + 6:.1f}" y="{y + 12}" '
            f'class="xl">{v:.2f}</text>'
        )
    return "".join([*parts, "</svg>"])


def _best_trials(st: StageResult, keys: list[str], n: int = 10) -> str:
    """The stage's best complete trials with their settings."""
    done = [t for t in st.trials if t.value is not None and t.user_attrs.get("feasible")]
    done.sort(key=lambda t: -(t.value or 0.0))
    rows = [
        [str(t.number), f"{t.value:.4g}", str(t.user_attrs.get("trades", ""))]
        + [_short(t.params.get(k)) for k in keys]
        for t in done[:n]
    ]
    return _table(["trial", "score", "trades", *keys], rows) if rows else "<p>none feasible</p>"


def _short(v: object) -> str:
    """A parameter value for a table cell."""
    return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))


def write_html(out: Path, result: OptimizeResult) -> Path:
    """optimize.html: verdict, folds table, OOS equity per fold, scatter, stability, importance."""
    req = result.request
    keys = [p.key for p in req.space]
    lines = verdict(result)
    body = [
        f"<h1>optimize {escape(req.base.name)}</h1>",
        f'<p class="note">{escape(iso_utc(result.span[0]))} → {escape(iso_utc(result.span[1]))}'
        f"; objective {escape(req.rules.objective)}, at least {req.rules.min_trades} trades, "
        f"drawdown ≤ {req.rules.max_drawdown_pct:g} %; all figures net of fees and slippage</p>",
        *(f"<p class='{'bad' if 'no setting' in ln else 'good'}'>{escape(ln)}</p>" for ln in lines),
        "<h2>Folds: in sample vs out of sample</h2>",
    ]
    rows = []
    for st in result.stages:
        test = "-" if st.fold is None else iso_utc(st.fold.test_from)[:16]
        rows.append(
            [st.label, str(len(st.trials)), test, *_fig(st.in_sample), *_fig(st.out_sample)]
        )
    head = ["stage", "trials", "test from", "IS $/day", "IS trades", "IS win", "IS dd"]
    body.append(_table([*head, "OOS $/day", "OOS trades", "OOS win", "OOS dd"], rows))
    folds = [s for s in result.stages if s.fold is not None]
    if folds:
        body.append("<h2>Out-of-sample equity per fold</h2>")
        for st in folds:
            body.append(equity_svg(st.oos_curve, f"{st.label}: unseen test equity"))
        points = [(i, o, f"{st.label} trial {n}") for st in folds for n, i, o in st.top]
        body.append("<h2>In sample vs out of sample</h2>")
        body.append(scatter_svg(points, "best trials of each fold, retested on the fold"))
        stab = stability(result, req.space)
        body.append("<h2>Parameter stability across folds</h2>")
        body.append(_table(["parameter", "best per fold", "moves"], [list(r) for r in stab]))
    if result.stages:
        last = result.stages[-1]
        body.append(f"<h2>Parameter importance ({escape(last.label)})</h2>")
        body.append(bars_svg(importance(last, req.space), "rank correlation with the score"))
    for st in result.stages:
        body.append(f"<h2>Best trials: {escape(st.label)}</h2>{_best_trials(st, keys)}")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>optimize "
        f"{escape(req.base.name)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
    path = out / "optimize.html"
    path.write_text(page, encoding="utf-8")
    return path
