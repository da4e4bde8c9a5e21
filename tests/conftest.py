pytest_plugins = ["enforcer.simulator.fixtures"]
