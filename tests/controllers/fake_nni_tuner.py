"""A stand-in for an NNI tuner: NNI's tuner methods over NNI's search-space format, seeded, call-logging."""

from __future__ import annotations

import math
import random
from typing import Any


class FakeTuner:
    """Random search speaking NNI's tuner API (update_search_space / generate_parameters / ...)."""

    def __init__(self, seed: int = 0, optimize_mode: str = "maximize") -> None:
        self.rng = random.Random(seed)
        self.optimize_mode = optimize_mode
        self.space: dict[str, Any] | None = None
        self.generated: dict[int, dict[str, Any]] = {}
        self.results: list[tuple[int, dict[str, Any], float]] = []
        self.ended: list[tuple[int, bool]] = []

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        self.space = search_space

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        assert self.space is not None, "update_search_space must come first"
        params = {}
        for name, spec in self.space.items():
            kind, value = spec["_type"], spec["_value"]
            if kind == "choice":
                params[name] = self.rng.choice(value)
            elif kind == "randint":
                params[name] = self.rng.randrange(value[0], value[1])
            elif kind == "uniform":
                params[name] = self.rng.uniform(value[0], value[1])
            elif kind == "quniform":
                params[name] = round(self.rng.uniform(value[0], value[1]) / value[2]) * value[2]
            elif kind == "loguniform":
                params[name] = math.exp(self.rng.uniform(math.log(value[0]), math.log(value[1])))
            elif kind == "qloguniform":
                params[name] = round(math.exp(self.rng.uniform(math.log(value[0]), math.log(value[1]))))
            else:
                raise ValueError(f"unknown NNI type {kind}")
        self.generated[parameter_id] = params
        return params

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: float, **kwargs: Any) -> None:
        self.results.append((parameter_id, parameters, value))

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        self.ended.append((parameter_id, success))
