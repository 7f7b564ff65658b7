"""Whether the process exports traces and metrics, decided from the standard
OTEL_* variables; pure over the mapping it is given and never imports OpenTelemetry.

Off unless asked: with none of the variables below set, nothing is exported and
the OpenTelemetry SDK is never imported. The exporters read the rest of their
configuration (endpoint, headers, timeout, compression, resource) from the same
variables themselves, as the OpenTelemetry SDK documents:
https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
and https://opentelemetry.io/docs/specs/otel/protocol/exporter/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Exporter = Literal["otlp", "console", "none"]

# Any of these set means the operator asked for telemetry.
ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)
EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
KNOWN_EXPORTERS: tuple[Exporter, ...] = ("otlp", "console", "none")
DEFAULT_SERVICE_NAME = "computer-use-demo"


@dataclass(frozen=True, slots=True)
class ExportConfig:
    """What to export: spans and metrics each go to OTLP/HTTP, the console, or nowhere."""

    traces: Exporter = "none"
    metrics: Exporter = "none"
    problems: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.traces != "none" or self.metrics != "none"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExportConfig:
        """The export `environ` asks for; an unknown exporter name is left out
        and named in `problems` (logged once, never fatal)."""
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls()
        endpoint = any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)
        named = any(environ.get(name, "").strip() for name in EXPORTER_VARIABLES)
        if not (endpoint or named):
            return cls()
        # With an endpoint, a signal whose exporter is unnamed goes to it (the
        # spec's default, otlp); without one, only the signals named are exported.
        default: Exporter = "otlp" if endpoint else "none"
        problems: list[str] = []
        traces = _exporter(environ, "OTEL_TRACES_EXPORTER", default, problems)
        metrics = _exporter(environ, "OTEL_METRICS_EXPORTER", default, problems)
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip() or "http/protobuf"
        )
        if protocol != "http/protobuf":
            problems.append(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported: "
                "exporting OTLP over http/protobuf (port 4318) instead"
            )
        return cls(traces=traces, metrics=metrics, problems=tuple(problems))


def _exporter(
    environ: Mapping[str, str], name: str, default: Exporter, problems: list[str]
) -> Exporter:
    """The first exporter the variable names that we have (the spec allows a
    comma-separated list); `default` when unset."""
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    for choice in (part.strip() for part in raw.split(",")):
        for known in KNOWN_EXPORTERS:
            if choice == known:
                return known
    problems.append(
        f"{name}={raw} names no exporter this app has (otlp, console, none)"
    )
    return "none"
