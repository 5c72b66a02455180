#!/bin/sh
# Trainer: ganlab-train against the tracking server in MLFLOW_TRACKING_URI (the compose
# `trainer` service runs this). Arguments, or GANLAB_ARGS when there are none, are
# ganlab-train's: an experiment, a sweep, any override.
#
#   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 docker/train.sh -m experiment=loss_zoo_ring8
set -eu
: "${MLFLOW_TRACKING_URI:?set MLFLOW_TRACKING_URI to the tracking server, e.g. http://mlflow:5000}"
if [ "$#" -eq 0 ]; then
    # shellcheck disable=SC2086  # GANLAB_ARGS holds several arguments on purpose
    set -- ${GANLAB_ARGS:-}
fi
# tracking=server goes after -m (Hydra takes its flags before the overrides) and before
# the user's overrides (the last value of a key wins)
case "${1:-}" in
    -m | --multirun) shift; set -- -m tracking=server "$@" ;;
    *) set -- tracking=server "$@" ;;
esac
exec ganlab-train "$@"
