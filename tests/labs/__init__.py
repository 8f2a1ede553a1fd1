"""Labs that stand in for the parts of a cloud that cannot run here (the hypervisor).

``vmboot``: a cloud-neutral VM booter (network-namespace hosts running a real sshd).
``fault_moto``: moto's EC2 server over HTTP with a fault-injection layer.
``aws_lab``: both together, started and stopped by PID (``scripts/aws_lab_up.sh``/``down``).
"""
