<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 409 conflict: the same id with another input; a resume of an instance not paused; a redrive of one that has not failed. */
class ConflictException extends OrbitException
{
}
