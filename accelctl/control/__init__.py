"""The control loop: pure policy and availability, plus metric sources and weight actuators."""
