"""The shared vocabulary under the five packages: defined once here, imported everywhere else.

Nothing in ``common`` imports any other package of ours (a contract checked by import-linter):

* :mod:`common.levels` — risk levels: one order, labels, rank;
* :mod:`common.places` — places and jurisdictions: one type from province to village plus police
  station, and the one ``allows`` rule every surface uses;
* :mod:`common.clock` — time: aware UTC inside and in APIs, Beijing time only at display;
* :mod:`common.records` — the records passed from scoring to operations, and the alert-sink protocol;
* :mod:`common.errors` — the error root; each kind maps once to an HTTP status, a JSON body and a
  CLI exit code;
* :mod:`common.settings` — the process settings (``WEIMENG_*``) and the YAML-config loader.
"""
