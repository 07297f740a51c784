#!/usr/bin/env bash
# SLURM array job: N workers (one per array task) share one autogt study on PostgreSQL.
#
#   1. create the study once (stores the search arguments and the budget; runs nothing):
#        autogt search --data nasbench:cora --space nasbench_graph --trials 500 --timeout 0 \
#            --storage "$AUTOGT_STORAGE" --study cora-500 --no-report
#   2. sbatch --array=0-15 examples/cluster/slurm_array.sh
#
# Every task runs `autogt worker`; they stop together once the study holds 500 trials. A task that is
# pre-empted or killed mid-trial has that trial failed and re-run by another task (heartbeats).
#SBATCH --job-name=autogt-worker
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --gres=gpu:1
#SBATCH --time=04:00:00
#SBATCH --output=logs/autogt-worker-%A_%a.out
set -euo pipefail

: "${AUTOGT_STORAGE:=postgresql://autogt:secret@db.cluster.local:5432/autogt}"
: "${AUTOGT_BANK:=postgresql://autogt:secret@db.cluster.local:5432/autogt_bank}"
: "${AUTOGT_STUDY:=cora-500}"

mkdir -p logs
# one run folder per task for checkpoints (no collisions on a shared file system)
exec autogt worker --study "$AUTOGT_STUDY" --storage "$AUTOGT_STORAGE" --bank "$AUTOGT_BANK" \
    --device cuda --out "runs/${AUTOGT_STUDY}/task-${SLURM_ARRAY_TASK_ID}" --json
