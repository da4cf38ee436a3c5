"""Where training runs: one device, every device of one machine, or several machines (tf.distribute).

- default: TensorFlow's default strategy (one device, as before).
- mirrored: MirroredStrategy over this machine's GPUs, or its CPU split into logical devices
  (cpu_replicas), which is how the multi-device path is tested on a machine without GPUs.
- multiworker: MultiWorkerMirroredStrategy; every machine runs the same command with its own
  TF_CONFIG (the cluster's addresses and this worker's index). The chief (worker 0) alone writes
  the run folder, which every worker must be able to read to resume.
"""
from __future__ import annotations

import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


def split_cpu(replicas: int) -> None:
    """Split the CPU into this many logical devices; must run before TensorFlow first uses a device."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def make_strategy(name: str = "default", cpu_replicas: int = 1) -> tf.distribute.Strategy:
    """The tf.distribute strategy called name (see STRATEGIES)."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if cpu_replicas < 1:
        raise ValueError(f"cpu_replicas must be at least 1, got {cpu_replicas}")
    if cpu_replicas > 1:
        split_cpu(cpu_replicas)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if "TF_CONFIG" not in os.environ:
        raise ValueError("multiworker needs TF_CONFIG: the cluster's worker addresses and this worker's index "
                         "(see docs/training.md).")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder: always, except on workers other than worker 0 (or the chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if "chief" in resolver.cluster_spec().as_dict():
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0
