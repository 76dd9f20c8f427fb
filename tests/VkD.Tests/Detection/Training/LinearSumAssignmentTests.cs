using VkD.Detection.Training;
using VkD.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace VkD.Tests.Detection.Training;

/// <summary>The assignment solver against scipy's <c>linear_sum_assignment</c> (fixture lsap.pt from
/// tools/fixtures/make_detection_loss_fixtures.py) and against brute force.</summary>
public sealed class LinearSumAssignmentTests(ITestOutputHelper output)
{
    private sealed record Case(int Rows, int Columns, double[] Cost, int[] ScipyRows, int[] ScipyColumns, double ScipyTotal, bool Unique);

    private static List<Case> ScipyCases()
    {
        using var f = Fixture.Load(DetectionTrainingFixtures.Part, "lsap");
        var shapes = f["shapes"].data<long>().ToArray();
        var costs = f["costs"].data<double>().ToArray();
        var rows = f["rows"].data<long>().ToArray();
        var cols = f["cols"].data<long>().ToArray();
        var totals = f["totals"].data<double>().ToArray();
        var unique = f["unique"].data<bool>().ToArray();
        var cases = new List<Case>();
        int costAt = 0, pairAt = 0;
        for (var k = 0; k < totals.Length; k++)
        {
            var n = (int)shapes[2 * k];
            var m = (int)shapes[(2 * k) + 1];
            var pairs = Math.Min(n, m);
            cases.Add(new Case(n, m, costs[costAt..(costAt + (n * m))],
                rows[pairAt..(pairAt + pairs)].Select(x => (int)x).ToArray(),
                cols[pairAt..(pairAt + pairs)].Select(x => (int)x).ToArray(), totals[k], unique[k]));
            costAt += n * m;
            pairAt += pairs;
        }
        Assert.Equal(costs.Length, costAt);
        return cases;
    }

    private static void AssertValid(Assignment a, int n, int m)
    {
        Assert.Equal(Math.Min(n, m), a.Count);
        Assert.Equal(a.RowIndices.Length, a.ColumnIndices.Length);
        for (var k = 1; k < a.Count; k++)
        {
            Assert.True(a.RowIndices[k] > a.RowIndices[k - 1], "rows must be strictly ascending");
        }
        Assert.Equal(a.Count, a.ColumnIndices.Distinct().Count());
        Assert.All(a.RowIndices, r => Assert.InRange(r, 0, n - 1));
        Assert.All(a.ColumnIndices, c => Assert.InRange(c, 0, m - 1));
    }

    [Fact]
    public void Total_cost_equals_scipys_optimum_on_every_fixture_case()
    {
        var cases = ScipyCases();
        Assert.True(cases.Count >= 200, $"only {cases.Count} cases");
        Assert.Contains(cases, c => c.Rows < c.Columns);
        Assert.Contains(cases, c => c.Rows > c.Columns);
        Assert.Contains(cases, c => c.Rows == c.Columns);
        Assert.Contains(cases, c => !c.Unique);
        var worst = 0.0;
        foreach (var (c, k) in cases.Select((c, k) => (c, k)))
        {
            var a = LinearSumAssignment.Solve(c.Cost, c.Rows, c.Columns);
            AssertValid(a, c.Rows, c.Columns);
            var total = a.TotalCost(c.Cost, c.Columns);
            // Relative to the size of the summed entries, so sums that cancel to near zero are judged fairly.
            var scale = Math.Max(double.Epsilon, c.ScipyRows.Select((r, i) => Math.Abs(c.Cost[(r * c.Columns) + c.ScipyColumns[i]])).Sum());
            var rel = Math.Abs(total - c.ScipyTotal) / scale;
            worst = Math.Max(worst, rel);
            Assert.True(rel <= 1e-9, $"case {k} ({c.Rows}×{c.Columns}): total {total:R} vs scipy {c.ScipyTotal:R} (relative {rel:g3})");
        }
        output.WriteLine($"{cases.Count} cases, worst relative total difference {worst:g3}");
    }

    [Fact]
    public void Assignment_equals_scipys_where_the_optimum_is_unique()
    {
        var cases = ScipyCases();
        var unique = cases.Where(c => c.Unique).ToList();
        Assert.True(unique.Count >= 100, $"only {unique.Count} unique-optimum cases");
        foreach (var c in unique)
        {
            var a = LinearSumAssignment.Solve(c.Cost, c.Rows, c.Columns);
            Assert.Equal(c.ScipyRows, a.RowIndices);
            Assert.Equal(c.ScipyColumns, a.ColumnIndices);
        }
        // Any optimum would be right on ties, but the solver follows scipy's search order and tie rule, so it picks
        // scipy's optimum there too; a change that loses this is worth noticing.
        var ties = cases.Where(c => !c.Unique).ToList();
        var same = ties.Count(c =>
        {
            var a = LinearSumAssignment.Solve(c.Cost, c.Rows, c.Columns);
            return a.RowIndices.SequenceEqual(c.ScipyRows) && a.ColumnIndices.SequenceEqual(c.ScipyColumns);
        });
        output.WriteLine($"{unique.Count} unique cases identical; tie cases identical to scipy: {same}/{ties.Count}");
        Assert.Equal(ties.Count, same);
    }

    [Fact]
    public void Total_cost_equals_brute_force_on_small_random_matrices()
    {
        var rng = new Random(7);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = rng.Next(1, 7);
            var m = rng.Next(1, 7);
            var integer = trial % 2 == 0;
            var cost = Enumerable.Range(0, n * m).Select(_ => integer ? rng.Next(0, 4) : (rng.NextDouble() * 20) - 10).ToArray();
            var a = LinearSumAssignment.Solve(cost, n, m);
            AssertValid(a, n, m);
            var best = BruteForce(cost, n, m);
            Assert.True(Math.Abs(a.TotalCost(cost, m) - best) <= 1e-9 * Math.Max(1, Math.Abs(best)),
                $"trial {trial} ({n}×{m}): {a.TotalCost(cost, m)} vs brute force {best}");
        }
    }

    private static double BruteForce(double[] cost, int n, int m)
    {
        // Assign every row of the shorter side to a distinct index of the longer side.
        var tall = n > m;
        var shortSide = tall ? m : n;
        var longSide = tall ? n : m;
        var used = new bool[longSide];
        var best = double.PositiveInfinity;
        void Recurse(int i, double sum)
        {
            if (i == shortSide)
            {
                best = Math.Min(best, sum);
                return;
            }
            for (var j = 0; j < longSide; j++)
            {
                if (used[j])
                {
                    continue;
                }
                used[j] = true;
                Recurse(i + 1, sum + (tall ? cost[(j * m) + i] : cost[(i * m) + j]));
                used[j] = false;
            }
        }
        Recurse(0, 0);
        return best;
    }

    [Fact]
    public void Forbidden_pairs_are_avoided_and_maximising_negates()
    {
        var inf = double.PositiveInfinity;
        var a = LinearSumAssignment.Solve(new double[,] { { inf, 1, 5 }, { 2, inf, inf } });
        Assert.Equal([0, 1], a.RowIndices);
        Assert.Equal([1, 0], a.ColumnIndices);
        var max = LinearSumAssignment.Solve(new double[,] { { 1, 9 }, { 8, 2 }, { 3, 3 } }, maximize: true);
        Assert.Equal([0, 1], max.RowIndices);
        Assert.Equal([1, 0], max.ColumnIndices);
    }

    [Fact]
    public void Constant_matrix_gives_the_identity_as_scipy()
    {
        var a = LinearSumAssignment.Solve(new double[16], 4, 4);
        Assert.Equal([0, 1, 2, 3], a.ColumnIndices);
    }

    [Fact]
    public void Empty_matrices_give_empty_assignments()
    {
        Assert.Equal(0, LinearSumAssignment.Solve([], 0, 5).Count);
        Assert.Equal(0, LinearSumAssignment.Solve([], 3, 0).Count);
    }

    [Fact]
    public void Bad_input_is_refused_with_a_clear_message()
    {
        var nan = Assert.Throws<ArgumentException>(() => LinearSumAssignment.Solve([1, double.NaN, 2, 3], 2, 2));
        Assert.Contains("row 0, column 1", nan.Message);
        Assert.Throws<ArgumentException>(() => LinearSumAssignment.Solve([1, double.NegativeInfinity], 1, 2));
        var size = Assert.Throws<ArgumentException>(() => LinearSumAssignment.Solve([1, 2, 3], 2, 2));
        Assert.Contains("2×2", size.Message);
        var inf = double.PositiveInfinity;
        var infeasible = Assert.Throws<InvalidOperationException>(() => LinearSumAssignment.Solve([inf, 1, inf, 2], 2, 2));
        Assert.Contains("infeasible", infeasible.Message);
    }
}
