"""The composition root: the one place adapters are built from settings, handed to the use cases, and closed.

The command line builds everything here (``Settings.from_environment`` then :func:`open_runtime`, the front door);
so do simulations (:func:`simulate`) and anyone's own tooling or tests, which may pass in-memory adapters
instead. Nothing else in the package constructs an adapter: use cases take ports. One module per concern:

- ``settings``: flags, ``FINDLY_*`` and defaults; the platform file loaded or refused;
- ``extras``: the optional extras a command needs (a missing one: exit 2, naming it); ``needs``: which ones the
  settings and the platform file call for (``needed_extras``, the ``extras`` command);
- ``stores``: the state a URL names, opened, migrated, checked and verified;
- ``prometheus``, ``clusters``, ``google``, ``dns``: the metrics, the Kubernetes clusters, GKE and Secret Manager,
  Cloud DNS;
- ``identity``: verified GitHub identities, and who this process is for leases;
- ``runtime``: every port of one command (:func:`open_runtime`); ``simulation``: a release in memory;
  ``releases``: the releases of several services, on a runtime's pipeline service (:func:`release_service`).

>>> from findly_infra.bootstrap import Settings, load_platform, open_runtime
>>> settings = Settings(state="memory://")
>>> with open_runtime(settings, load_platform(settings, embedded_example=True)) as runtime:
...     runtime.service.status("fn-posts")[0].phase.value
'idle'
"""

from __future__ import annotations

from findly_infra.bootstrap.clusters import cluster_objects, environment_renderer
from findly_infra.bootstrap.dns import dns_records
from findly_infra.bootstrap.extras import MissingExtraError, require_extra
from findly_infra.bootstrap.google import gke_clusters, secret_store
from findly_infra.bootstrap.identity import dead_here, identity_proof, proof_verifier, runner_identity
from findly_infra.bootstrap.needs import needed_dr_extras, needed_extras
from findly_infra.bootstrap.releases import release_service
from findly_infra.bootstrap.runtime import Runtime, open_runtime, rollouts_affected
from findly_infra.bootstrap.settings import (
    DEFAULT_CONFIG,
    DEFAULT_STATE,
    Settings,
    load_platform,
    refuse_throwaway_state,
    require_platform_file,
)
from findly_infra.bootstrap.simulation import simulate
from findly_infra.bootstrap.stores import (
    StateCheck,
    check_state,
    fresh_demo_state,
    migrate_state,
    state_store,
    verify_state,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_STATE",
    "MissingExtraError",
    "Runtime",
    "Settings",
    "StateCheck",
    "check_state",
    "cluster_objects",
    "dead_here",
    "dns_records",
    "environment_renderer",
    "fresh_demo_state",
    "gke_clusters",
    "identity_proof",
    "load_platform",
    "migrate_state",
    "needed_dr_extras",
    "needed_extras",
    "open_runtime",
    "proof_verifier",
    "refuse_throwaway_state",
    "release_service",
    "require_extra",
    "require_platform_file",
    "rollouts_affected",
    "runner_identity",
    "secret_store",
    "simulate",
    "state_store",
    "verify_state",
]
