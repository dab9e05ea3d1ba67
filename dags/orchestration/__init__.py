"""What the DAGs share: settings, Assets, connections and the notebook operator."""
