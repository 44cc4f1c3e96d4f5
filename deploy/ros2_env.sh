#!/usr/bin/env bash
# Prints the environment of a sourced ROS 2 as a systemd EnvironmentFile
# (systemd cannot source setup.bash itself). Run it as root on the robot:
#
#   deploy/ros2_env.sh /opt/ros/jazzy/setup.bash [/opt/cap-msgs/install/setup.bash] \
#     > /etc/cap-edge/ros2.env
#
# Each setup file is sourced in order (an overlay after its underlay) in a
# clean environment; only the variables ROS 2 and rclnodejs read are kept.
set -euo pipefail
if [ "$#" -lt 1 ]; then
  echo "usage: $0 <setup.bash>... > /etc/cap-edge/ros2.env" >&2
  exit 2
fi
for setup in "$@"; do
  if [ ! -r "$setup" ]; then
    echo "$0: cannot read ROS 2 setup file \"$setup\"" >&2
    exit 1
  fi
done
vars="$(env -i HOME=/nonexistent PATH=/usr/local/bin:/usr/bin:/bin bash -c '
  for setup in "$@"; do
    # shellcheck disable=SC1090
    source "$setup" || exit 1
  done
  env
' ros2_env "$@")" || {
  echo "$0: sourcing $* failed" >&2
  exit 1
}
kept="$(grep -E '^(AMENT_PREFIX_PATH|CMAKE_PREFIX_PATH|COLCON_PREFIX_PATH|LD_LIBRARY_PATH|PYTHONPATH|ROS_[A-Z_]+|RMW_[A-Z_]+|RCUTILS_[A-Z_]+|FASTRTPS_[A-Z_]+|FASTDDS_[A-Z_]+|CYCLONEDDS_[A-Z_]+)=' <<<"$vars" | sort || true)"
if ! grep -q '^AMENT_PREFIX_PATH=' <<<"$kept"; then
  echo "$0: $* did not set AMENT_PREFIX_PATH: not a ROS 2 setup file?" >&2
  exit 1
fi
printf '%s\n' "$kept"
