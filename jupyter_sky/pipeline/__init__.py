"""One cell's way from plan to record: plan, choose, launch with failover, connect, push, run, pull, record."""
