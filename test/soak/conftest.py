# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The soak reuses the integration suite's fixtures and hooks (services,
brokers, timeouts, process hygiene): they are loaded from
test/integration/conftest.py under another module name and re-exported."""

import importlib.util
import sys
from pathlib import Path

_IT = Path(__file__).resolve().parents[1] / 'integration'
sys.path.insert(0, str(_IT))

_spec = importlib.util.spec_from_file_location('iothub_it_conftest', _IT / 'conftest.py')
_mod = importlib.util.module_from_spec(_spec)
sys.modules['iothub_it_conftest'] = _mod
_spec.loader.exec_module(_mod)

for _name in dir(_mod):
    if _name.startswith('pytest_') or not _name.startswith('_'):
        globals()[_name] = getattr(_mod, _name)
