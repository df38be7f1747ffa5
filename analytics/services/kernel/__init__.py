"""What every area shares: the model catalogue and prices, device ids, numbers, the event types, the live-metrics seam, kept answers and live views. It imports no area."""
