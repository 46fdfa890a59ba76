"""Loading a config checks the exchange id against ccxt's list without importing ccxt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
from optiflow.config.loader import _ccxt_exchanges, load_config
load_config(Path("configs/reference_ema_rsi.json"))
assert "ccxt" not in sys.modules, "ccxt imported by load_config"
ids = _ccxt_exchanges()
import ccxt
assert ids == list(ccxt.exchanges), "not ccxt's list"
print(len(ids))
"""


def test_exchange_ids_are_ccxts_list_read_without_importing_ccxt() -> None:
    """A fresh interpreter loads a config without ccxt; the ids read equal ccxt.exchanges."""
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 50
