"""Seed section 10.3: cost optimisation: current cost, suggestions, idle GPUs, long-running
allocations, cost statistics."""

from __future__ import annotations

from _env import client_from_env


def main() -> None:
    with client_from_env() as client:
        # 1. cost of the last 30 days
        cost = client.cost.analyze(days=30)
        print(
            f"1. monthly cost {cost.monthly_cost} USD; could save {cost.potential_monthly_savings}"
        )

        # 2. suggestions
        optimization = client.cost.optimization()
        print(f"2. {len(optimization.suggestions)} suggestions:")
        for suggestion in optimization.suggestions[:5]:
            print(f"   {suggestion.monthly_savings} USD/month: {suggestion.title}")

        # 3. idle (available) GPUs
        idle = client.devices.list(status="available")
        print(
            f"3. {len(idle)} GPUs not allocated: {', '.join(d.device_id or '' for d in idle[:6])}"
        )

        # 4. allocations ending within a week
        expiring = client.allocations.expiring(hours=168)
        print(f"4. {len(expiring)} allocations end within 168 h")

        # 5. cost statistics of the ledger
        stats = client.cost.statistics()
        print(f"5. ledger cost {stats.total_cost} USD; by team {stats.cost_by_team}")


if __name__ == "__main__":
    main()
