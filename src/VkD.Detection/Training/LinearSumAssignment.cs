namespace VkD.Detection.Training;

/// <summary>A solution of <see cref="LinearSumAssignment.Solve(double[], int, int, bool)"/>: row
/// <c>RowIndices[k]</c> is assigned column <c>ColumnIndices[k]</c>, rows ascending, as scipy's
/// <c>linear_sum_assignment</c> returns them.</summary>
/// <param name="RowIndices">Assigned rows, ascending; min(rows, columns) entries.</param>
/// <param name="ColumnIndices">The column of each assigned row.</param>
public sealed record Assignment(int[] RowIndices, int[] ColumnIndices)
{
    /// <summary>Number of assigned pairs.</summary>
    public int Count => RowIndices.Length;

    /// <summary>Sum of the assigned entries of the row-major <paramref name="cost"/> with <paramref name="columns"/> columns.</summary>
    public double TotalCost(double[] cost, int columns)
    {
        ArgumentNullException.ThrowIfNull(cost);
        var total = 0.0;
        for (var k = 0; k < RowIndices.Length; k++)
        {
            total += cost[((long)RowIndices[k] * columns) + ColumnIndices[k]];
        }
        return total;
    }
}

/// <summary>
/// Exact linear sum assignment (the rectangular assignment problem): choose min(n, m) entries of an n×m cost matrix,
/// at most one per row and column, with the least total. This is the shortest augmenting path algorithm
/// (Jonker–Volgenant family) in the form of Crouse (2016), which scipy's <c>linear_sum_assignment</c> implements:
/// rows are added one at a time, each by a Dijkstra-like search on reduced costs <c>c[i,j] − u[i] − v[j]</c>
/// that keeps the duals feasible, so the result is optimal, not a greedy or ε-approximate one. A tall matrix is solved
/// transposed. The search order and tie rules follow scipy's (columns scanned from the last, a free column preferred
/// among equal distances), so on ties it returns the same assignment as scipy.
/// </summary>
public static class LinearSumAssignment
{
    /// <summary>Solves the problem for the row-major <paramref name="cost"/> [rows × columns].</summary>
    /// <param name="cost">Row-major costs; finite or +∞ (a forbidden pair; −∞ with <paramref name="maximize"/>).</param>
    /// <param name="rows">Number of rows n.</param>
    /// <param name="columns">Number of columns m.</param>
    /// <param name="maximize">Maximise the total instead.</param>
    /// <exception cref="ArgumentException">The length is not rows × columns, or an entry is NaN or −∞ (+∞ when maximising).</exception>
    /// <exception cref="InvalidOperationException">Forbidden entries leave no complete assignment.</exception>
    public static Assignment Solve(double[] cost, int rows, int columns, bool maximize = false)
    {
        ArgumentNullException.ThrowIfNull(cost);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (cost.LongLength != (long)rows * columns)
        {
            throw new ArgumentException($"The cost matrix has {cost.LongLength} entries; a {rows}×{columns} matrix needs {(long)rows * columns}.", nameof(cost));
        }
        if (rows == 0 || columns == 0)
        {
            return new Assignment([], []);
        }
        var transpose = columns < rows;
        var nr = transpose ? columns : rows;
        var nc = transpose ? rows : columns;
        var c = new double[cost.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                var x = cost[((long)i * columns) + j];
                if (maximize)
                {
                    x = -x;
                }
                if (double.IsNaN(x) || double.IsNegativeInfinity(x))
                {
                    throw new ArgumentException(
                        $"The cost matrix has {cost[((long)i * columns) + j]} at row {i}, column {j}; costs must be numbers, with +∞ (−∞ when maximising) only for forbidden pairs.", nameof(cost));
                }
                c[transpose ? ((long)j * nc) + i : ((long)i * nc) + j] = x;
            }
        }
        var col4row = SolveWide(c, nr, nc);
        if (!transpose)
        {
            return new Assignment(Enumerable.Range(0, nr).ToArray(), col4row);
        }
        // Transposed: the "rows" found are the original columns; list the original rows ascending.
        var order = Enumerable.Range(0, nr).ToArray();
        Array.Sort(col4row.ToArray(), order);
        return new Assignment(order.Select(k => col4row[k]).ToArray(), order);
    }

    /// <summary>Solves <paramref name="cost"/> [rows, columns].</summary>
    public static Assignment Solve(double[,] cost, bool maximize = false)
    {
        ArgumentNullException.ThrowIfNull(cost);
        var rows = cost.GetLength(0);
        var columns = cost.GetLength(1);
        var flat = new double[rows * columns];
        Buffer.BlockCopy(cost, 0, flat, 0, flat.Length * sizeof(double));
        return Solve(flat, rows, columns, maximize);
    }

    /// <summary>The column of each row for a matrix with nr ≤ nc.</summary>
    private static int[] SolveWide(double[] cost, int nr, int nc)
    {
        var u = new double[nr];
        var v = new double[nc];
        var shortest = new double[nc];
        var path = new int[nc];
        var col4row = new int[nr];
        var row4col = new int[nc];
        var rowSeen = new bool[nr];
        var colSeen = new bool[nc];
        var remaining = new int[nc];
        Array.Fill(path, -1);
        Array.Fill(col4row, -1);
        Array.Fill(row4col, -1);
        for (var current = 0; current < nr; current++)
        {
            var (sink, minVal) = ShortestAugmentingPath(cost, nc, u, v, path, row4col, shortest, current, rowSeen, colSeen, remaining);
            if (sink < 0)
            {
                throw new InvalidOperationException(
                    $"The cost matrix is infeasible: its forbidden (infinite) entries leave no assignment of all {nr} rows (stopped at row {current}).");
            }
            // Dual update: keeps every reduced cost ≥ 0 and those on the new matching at 0.
            u[current] += minVal;
            for (var i = 0; i < nr; i++)
            {
                if (rowSeen[i] && i != current)
                {
                    u[i] += minVal - shortest[col4row[i]];
                }
            }
            for (var j = 0; j < nc; j++)
            {
                if (colSeen[j])
                {
                    v[j] -= minVal - shortest[j];
                }
            }
            // Flip the alternating path back from the sink to the new row.
            var col = sink;
            while (true)
            {
                var row = path[col];
                row4col[col] = row;
                (col4row[row], col) = (col, col4row[row]);
                if (row == current)
                {
                    break;
                }
            }
        }
        return col4row;
    }

    private static (int Sink, double MinVal) ShortestAugmentingPath(double[] cost, int nc, double[] u, double[] v, int[] path,
        int[] row4col, double[] shortest, int row, bool[] rowSeen, bool[] colSeen, int[] remaining)
    {
        var minVal = 0.0;
        var left = nc;
        for (var k = 0; k < nc; k++)
        {
            // Reverse order, as scipy: a constant matrix then gets the identity assignment.
            remaining[k] = nc - k - 1;
        }
        Array.Fill(rowSeen, false);
        Array.Fill(colSeen, false);
        Array.Fill(shortest, double.PositiveInfinity);
        var sink = -1;
        while (sink == -1)
        {
            var index = -1;
            var lowest = double.PositiveInfinity;
            rowSeen[row] = true;
            var offset = (long)row * nc;
            for (var k = 0; k < left; k++)
            {
                var j = remaining[k];
                var r = minVal + cost[offset + j] - u[row] - v[j];
                if (r < shortest[j])
                {
                    path[j] = row;
                    shortest[j] = r;
                }
                // Among equal distances a free column ends the search now; with small integer costs this avoids long
                // detours through tied, already assigned columns.
                if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1))
                {
                    lowest = shortest[j];
                    index = k;
                }
            }
            minVal = lowest;
            if (double.IsPositiveInfinity(minVal))
            {
                return (-1, minVal);
            }
            var col = remaining[index];
            if (row4col[col] == -1)
            {
                sink = col;
            }
            else
            {
                row = row4col[col];
            }
            colSeen[col] = true;
            remaining[index] = remaining[--left];
        }
        return (sink, minVal);
    }
}
