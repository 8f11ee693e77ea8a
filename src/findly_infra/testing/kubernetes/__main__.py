"""``python -m findly_infra.testing.kubernetes [--port 6443] [--context findly-prod] [--kubeconfig PATH]``: the
stand-in served until interrupted, with a kubeconfig naming it (see ``findly_infra.testing._launch``)."""

from __future__ import annotations

from findly_infra.testing._launch import kubernetes

raise SystemExit(kubernetes())
