"""The regional platform stack: network, cluster, add-ons, shared data plane, account baseline."""
