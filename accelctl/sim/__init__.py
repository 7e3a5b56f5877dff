"""`accelctl simulate`: replay a scenario against a model of the fleet, driving the same policy code
as `watch` through a simulated source and actuator on a simulated clock, beside baselines and an
oracle. scenario (files) -> load (requests/s) -> fleet (dynamics) -> run (policies) -> metrics -> report."""
