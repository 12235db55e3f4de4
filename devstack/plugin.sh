#!/bin/bash
# shellcheck shell=bash
#
# DevStack plugin for drbd-clvm-driver: on each of two nodes, stands up the
# cluster stack (devstack/lib/drbd_clvm, the same functions the project's
# cluster gate runs in its guests) and adds the Cinder backend.
#
#   enable_plugin drbd-clvm-driver <repository> [branch]
#
# Variables from DevStack: DEST, CINDER_CONF, CINDER_ENABLED_BACKENDS,
# CINDER_ROOTWRAP_CONF... (see devstack/settings for this plugin's own).

DRBD_CLVM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=devstack/lib/drbd_clvm
source "$DRBD_CLVM_DIR/devstack/lib/drbd_clvm"

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
    pip_install -e "$DRBD_CLVM_DIR"
}

# The backing disk under DRBD: the configured device, or a loop file.
function drbd_clvm_backing_disk {
    if [[ -z ${DRBD_CLVM_DISK} ]]; then
        truncate -s "${DRBD_CLVM_BACKING_SIZE}" "${DRBD_CLVM_BACKING_FILE}"
        DRBD_CLVM_DISK=$(sudo losetup --show -f "${DRBD_CLVM_BACKING_FILE}")
    fi
}

function drbd_clvm_cinder {
    drbd_clvm_configure_cinder "$CINDER_CONF"
    sudo cp "$DRBD_CLVM_DIR/etc/drbd_clvm_driver/rootwrap.d/drbd_clvm.filters" \
        /etc/cinder/rootwrap.d/
    local section=${DRBD_CLVM_BACKEND_NAME}
    if [[ ,${CINDER_ENABLED_BACKENDS}, != *",drbd_clvm:$section,"* ]]; then
        CINDER_ENABLED_BACKENDS+=",drbd_clvm:$section"
    fi
}

function drbd_clvm_stack_up {
    if [[ -z ${DRBD_CLVM_NODE1_ADDR} || -z ${DRBD_CLVM_NODE2_ADDR} ]]; then
        die $LINENO "Set DRBD_CLVM_NODE1_ADDR and DRBD_CLVM_NODE2_ADDR"
    fi
    drbd_clvm_backing_disk
    # DRBD and dlm_controld run drbd-clvm-fence as root, from wherever
    # pip installed this package's console scripts.
    if [[ ! -x ${DRBD_CLVM_FENCE_PROGRAM} ]]; then
        DRBD_CLVM_FENCE_PROGRAM=$(command -v drbd-clvm-fence)
    fi
    export "${!DRBD_CLVM_@}"
    # shellcheck disable=SC2016
    sudo -E bash -c 'source "$DRBD_CLVM_DIR/devstack/lib/drbd_clvm" &&
        drbd_clvm_configure_node / &&
        drbd_clvm_start_node "$DRBD_CLVM_FIRST_NODE"'
}

function drbd_clvm_stack_down {
    sudo drbdadm down "${DRBD_CLVM_RESOURCE}" || true
    sudo pkill lvmlockd || true
    sudo pkill dlm_controld || true
    sudo pkill corosync || true
}

if is_service_enabled cinder; then
    case $1 in
        stack)
            case $2 in
                install)
                    drbd_clvm_install_packages
                    ;;
                post-config)
                    drbd_clvm_stack_up
                    drbd_clvm_cinder
                    ;;
            esac
            ;;
        unstack)
            drbd_clvm_stack_down
            ;;
        clean)
            drbd_clvm_stack_down
            if [[ -z ${DRBD_CLVM_DISK:-} ]]; then
                rm -f "${DRBD_CLVM_BACKING_FILE}"
            fi
            ;;
    esac
fi
