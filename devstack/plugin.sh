#!/bin/bash
# shellcheck shell=bash
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

# DevStack plugin for drbd-clvm-driver: on each node of the pair that runs
# c-vol, stands up the cluster stack (devstack/lib/drbd_clvm, the same
# functions the project's cluster gate runs in its guests) and configures the
# Cinder backend.
#
#   enable_plugin drbd-clvm-driver <repository> [branch]
#
# How the backend gets into cinder.conf, by DevStack's contract: this
# plugin's settings add drbd_clvm:<name> to CINDER_ENABLED_BACKENDS (DevStack
# sources them after lib/cinder's default and before any configuring).
# DevStack's configure_cinder then rewrites cinder.conf, lists every <name>
# in enabled_backends (the first is default_volume_type), and for each
# type:name calls configure_cinder_backend_<type> <name> if a function of
# that name exists in its shell; later create_volume_types makes a volume
# type per name. DevStack sources (not runs) this file into that shell from
# the pre-install phase on, before configure_cinder, so the function below
# is found. Anything done to cinder.conf or CINDER_ENABLED_BACKENDS in
# post-config comes after configure_cinder and never reaches enabled_backends.
#
# Variables from DevStack: CINDER_CONF, CINDER_CONF_DIR,
# CINDER_ENABLED_BACKENDS, DATA_DIR, HOST_IP... (see devstack/settings for
# this plugin's own).

DRBD_CLVM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=devstack/lib/drbd_clvm
source "$DRBD_CLVM_DIR/devstack/lib/drbd_clvm"

# drbd_clvm_data_file PATH: where one of the files setup.cfg's data_files
# installs is, PATH being relative to the install prefix (and to a git
# checkout): the installed copy when pip installed this package from a
# wheel (next to its console scripts' bin, or above the copy of this plugin
# in share/drbd-clvm-driver), else this checkout's.
function drbd_clvm_data_file {
    local relative=$1 program prefix
    local -a prefixes=()
    if program=$(command -v drbd-clvm-health); then
        prefixes+=("$(dirname "$(dirname "$program")")")
    fi
    if [[ $DRBD_CLVM_DIR == */share/drbd-clvm-driver ]]; then
        prefixes+=("${DRBD_CLVM_DIR%/share/drbd-clvm-driver}")
    fi
    for prefix in "${prefixes[@]}"; do
        if [[ -f $prefix/$relative ]]; then
            echo "$prefix/$relative"
            return 0
        fi
    done
    echo "$DRBD_CLVM_DIR/$relative"
}

# configure_cinder_backend_drbd_clvm NAME: DevStack's configure_cinder calls
# it for drbd_clvm:NAME, after Cinder's rootwrap.d is in place.
function configure_cinder_backend_drbd_clvm {
    local DRBD_CLVM_BACKEND_NAME=$1
    drbd_clvm_configure_cinder "$CINDER_CONF" ||
        die $LINENO "Could not write the [$1] backend in $CINDER_CONF"
    # lib/cinder puts Cinder's locks on etcd only where etcd3 runs.
    if ! is_service_enabled etcd3; then
        # one message: DevStack's warn prints its second argument only
        warn $LINENO "etcd3 is not enabled: Cinder's [coordination] stays\
 on this node's lock files, which the other nodes serving backend $1 do\
 not share (enable_service etcd3)"
    fi
    # The privileged daemon's start line, the one filter the driver needs.
    sudo cp "$(drbd_clvm_data_file \
        etc/drbd_clvm_driver/rootwrap.d/drbd_clvm.filters)" \
        "$CINDER_CONF_DIR/rootwrap.d/"
}

# What the pair cannot start without, checked before anything is installed
# rather than at post-config, many minutes in.
function drbd_clvm_check_settings {
    if [[ -z ${DRBD_CLVM_NODE1_ADDR} || -z ${DRBD_CLVM_NODE2_ADDR} ]]; then
        die $LINENO "Set DRBD_CLVM_NODE1_ADDR and DRBD_CLVM_NODE2_ADDR"
    fi
    drbd_clvm_local_number >/dev/null ||
        die $LINENO "Set DRBD_CLVM_LOCAL_NODE to this node's name in the pair"
    if [[ ${DRBD_CLVM_FENCING} != 0 && -z ${DRBD_CLVM_FENCE_AGENT} ]]; then
        die $LINENO "DRBD_CLVM_FENCING is on: set DRBD_CLVM_FENCE_AGENT" \
            "and its arguments (DRBD_CLVM_FENCING=0 only on a throw-away pair)"
    fi
}

function drbd_clvm_install_packages {
    local packages=(drbd-utils lvm2)
    if [[ ${DRBD_CLVM_LOCK_MANAGER} == clvmd ]]; then
        packages+=(cman clvm)
    elif [[ ${DRBD_CLVM_LOCK_MANAGER} == sanlock ]]; then
        packages+=(sanlock lvm2-lockd)
    else
        packages+=(corosync dlm-controld lvm2-lockd)
    fi
    if [[ ${DRBD_CLVM_FENCING} != 0 ]]; then
        # The operator's DRBD_CLVM_FENCE_AGENT comes from here.
        packages+=(fence-agents)
    fi
    install_package "${packages[@]}"
}

# The backing disk under DRBD: the configured device, or a loop file.
function drbd_clvm_backing_disk {
    if [[ -z ${DRBD_CLVM_DISK} ]]; then
        truncate -s "${DRBD_CLVM_BACKING_SIZE}" "${DRBD_CLVM_BACKING_FILE}"
        DRBD_CLVM_DISK=$(sudo losetup --show -f "${DRBD_CLVM_BACKING_FILE}")
    fi
}

# Before c-vol starts: every wait in drbd_clvm_start_node is bounded (a
# resync by its progress: DRBD_CLVM_RESYNC_STALL_TIMEOUT without any); the
# peer must be stacking within DRBD_CLVM_PEER_WAIT (corosync's two_node
# waits for both nodes, DRBD for its peer).
function drbd_clvm_stack_up {
    _drbd_clvm_shared_lun || drbd_clvm_backing_disk
    # DRBD and dlm_controld run drbd-clvm-fence as root, from wherever
    # pip installed this package's console scripts.
    if [[ ${DRBD_CLVM_FENCING} != 0 && ! -x ${DRBD_CLVM_FENCE_PROGRAM} ]]; then
        DRBD_CLVM_FENCE_PROGRAM=$(command -v drbd-clvm-fence) ||
            die $LINENO "drbd-clvm-fence is not on PATH:" \
                "set DRBD_CLVM_FENCE_PROGRAM to where pip installed it"
    fi
    export "${!DRBD_CLVM_@}"
    # shellcheck disable=SC2016
    sudo -E bash -c 'source "$DRBD_CLVM_DIR/devstack/lib/drbd_clvm" &&
        drbd_clvm_configure_node / &&
        drbd_clvm_start_node "$DRBD_CLVM_FIRST_NODE"' ||
        die $LINENO "The cluster stack did not start"
}

function drbd_clvm_stack_down {
    sudo drbdadm down "${DRBD_CLVM_RESOURCE}" || true
    sudo pkill lvmlockd || true
    sudo pkill dlm_controld || true
    sudo pkill corosync || true
}

function drbd_clvm_clean {
    drbd_clvm_stack_down
    if [[ -z ${DRBD_CLVM_DISK:-} ]]; then
        # Detached first: a loop device keeps a deleted file's space.
        local loop
        for loop in $(sudo losetup -l -n -O NAME \
            -j "${DRBD_CLVM_BACKING_FILE}"); do
            sudo losetup -d "$loop" || true
        done
        rm -f "${DRBD_CLVM_BACKING_FILE}"
    fi
}

# Only where c-vol runs: the API-only nodes need the volume type alone,
# which DevStack makes from CINDER_ENABLED_BACKENDS.
if is_service_enabled c-vol; then
    case $1 in
        stack)
            case $2 in
                pre-install)
                    drbd_clvm_check_settings
                    drbd_clvm_install_packages
                    ;;
                install)
                    # After Cinder: into the same Python environment.
                    pip_install -e "$DRBD_CLVM_DIR"
                    ;;
                post-config)
                    drbd_clvm_stack_up
                    ;;
            esac
            ;;
        unstack)
            drbd_clvm_stack_down
            ;;
        clean)
            drbd_clvm_clean
            ;;
    esac
fi
