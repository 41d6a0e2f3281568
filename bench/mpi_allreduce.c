/* MPI_Allreduce bus bandwidth, the yardstick for the health check's:
 *   mpirun -np N bench_mpi_allreduce BYTES ITERS
 * Rank 0 prints "busbw GBPS" with nccl-tests' factor 2(n-1)/n.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int rank, n;
	long bytes = argc > 1 ? atol(argv[1]) : 64L << 20;
	int iters = argc > 2 ? atoi(argv[2]) : 5;
	size_t count = (size_t)bytes / sizeof(float);
	float *buf;
	double t0, t;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	buf = malloc(count * sizeof(float));
	for (size_t i = 0; i < count; i++)
		buf[i] = 1.0f;
	MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	for (int i = 0; i < iters; i++)
		MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	t = (MPI_Wtime() - t0) / iters;
	if (rank == 0)
		printf("busbw %.3f\n", (double)bytes / t * 2.0 * (n - 1) / n / 1e9);
	free(buf);
	MPI_Finalize();
	return 0;
}
