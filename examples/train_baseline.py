"""Train a built-in architecture on a bundled data set and print its result (~1 min on a laptop CPU).

    python examples/train_baseline.py [DATA] [SPEC] [EPOCHS]     # defaults: esol gps 30
"""

from __future__ import annotations

import sys

import autogt

args = sys.argv[1:]
data = args[0] if len(args) > 0 else "esol"
spec_name = args[1] if len(args) > 1 else "gps"
epochs = int(args[2]) if len(args) > 2 else 30

task = autogt.load_task(data)
spec = autogt.load_spec(spec_name)
result = autogt.evaluate(spec, task, autogt.Budget(epochs=epochs, patience=10), out_dir=f"runs/example-{data}",
                         progress=True)
print(f"{task.name} / {spec_name}: {result.status} {result.metric} val={result.val} test={result.test} "
      f"params={result.params} latency_ms={result.latency_ms} epochs={result.epochs}")
print("checkpoint:", result.checkpoint or f"none ({result.reason})")
